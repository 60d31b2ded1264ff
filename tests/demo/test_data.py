"""Demo data: deterministic, every province, a realistic mix, and it imports cleanly."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from xiaohu.demo.data import prefix_table, write
from xiaohu.demo.numbers import find_demo_numbers
from xiaohu.intake.importer import import_records
from xiaohu.intake.rules import validate_record
from xiaohu.ledger.service import trial_balance
from xiaohu.lines.models import Line
from xiaohu.runtime import Context


def _text(lines: int, seed: int) -> str:
    buf = io.StringIO()
    write(buf, lines=lines, seed=seed, show_progress=False)
    return buf.getvalue()


def _records(lines: int, seed: int = 2026) -> list[dict[str, Any]]:
    return [json.loads(x) for x in _text(lines, seed).splitlines()]


def test_same_seed_same_bytes() -> None:
    assert _text(300, 5) == _text(300, 5)
    assert _text(300, 5) != _text(300, 6)


def test_prefix_table_covers_every_province() -> None:
    table = prefix_table()
    assert len(table) == 31
    assert all(len(prefixes) >= 20 for prefixes in table.values())


def test_every_record_is_valid_and_every_province_is_there() -> None:
    records = _records(1500)
    provinces = Counter()
    for i, r in enumerate(records, start=1):
        parsed, errors = validate_record(r, i)
        assert errors == []
        assert parsed is not None
        provinces[parsed.province_code] += 1
    assert len(provinces) == 31
    assert len({r["msisdn"] for r in records}) == len(records)


def test_the_mix_is_realistic() -> None:
    records = _records(3000)
    n = len(records)

    def share(pred: Any) -> float:
        return sum(1 for r in records if pred(r)) / n

    assert 0.05 < share(lambda r: "unpaid_bills" in r) < 0.12
    assert 0.06 < share(lambda r: r.get("bundle", {}).get("role") == "anchor") < 0.14
    assert share(lambda r: r.get("bundle", {}).get("role") == "member") > 0.002
    kinds = Counter(c["kind"] for r in records for c in r.get("contracts", []))
    assert 0.08 < kinds["handset"] / n < 0.16
    assert kinds["premium_number"] > 0
    assert any(c.get("ends_on") is None for r in records for c in r.get("contracts", []))
    assert 0.03 < share(lambda r: r.get("family", {}).get("role") == "primary") < 0.09
    assert share(lambda r: r.get("family", {}).get("role") == "member") > 0.02
    statuses = Counter(r["status"] for r in records)
    assert statuses["retained"] > 0 and statuses["arrears_suspended"] > 0
    assert statuses["lost"] + statuses["fraud_stop"] + statuses["judicial_freeze"] > 0
    assert 0.005 < share(lambda r: r["owner"]["id_type"] != "resident_id") < 0.04
    assert share(lambda r: r["balance"]["gift_fen"] > 0) > 0.05
    assert share(lambda r: "usage_history_fen" in r) > 0.8
    assert share(lambda r: "pending_orders" in r) > 0
    owners = Counter(r["owner"]["id_number"] for r in records)
    assert max(owners.values()) in (2, 3)


def test_demo_data_imports_cleanly(ctx: Context) -> None:
    records = _records(1200, seed=9)
    result = import_records(ctx, records)
    assert result.errors == []
    assert result.imported == 1200
    assert ctx.session.scalar(select(func.count()).select_from(Line)) == 1200
    assert trial_balance(ctx.session)["balanced"]
    numbers = find_demo_numbers(ctx)
    shows = " ".join(n.shows for n in numbers)
    for situation in ("clean line", "arrears", "handset", "broadband", "family", "retained"):
        assert situation in shows
    assert all(n.password_ok for n in numbers)
    assert len({n.msisdn for n in numbers}) == len(numbers)


def test_a_family_group_and_a_bundle_keep_to_one_province() -> None:
    """So a national deployment holds each group whole on one node (a province moves whole)."""
    from xiaohu.regions.rules import home_of

    provinces: dict[str, set[str]] = {}
    for rec in _records(3000):
        home = home_of(rec["msisdn"])
        assert home is not None
        for key, ref in (("family", "group_id"), ("bundle", "id")):
            if key in rec:
                provinces.setdefault(f"{key}:{rec[key][ref]}", set()).add(home.province_code)
    assert sum(1 for k in provinces if k.startswith("family:")) > 20
    spanning = {group: codes for group, codes in provinces.items() if len(codes) > 1}
    assert not spanning
