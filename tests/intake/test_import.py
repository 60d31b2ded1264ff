"""Import service: bulk writes, ledger opening balances, re-import, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import SERVICE_PASSWORD, example_contracts, line_record, load, owner
from xiaohu.audit.service import count_events
from xiaohu.billing.models import Bill, UsageHistory, UsageRecord
from xiaohu.contracts.models import Contract
from xiaohu.identity.passwords import verify
from xiaohu.intake import importer
from xiaohu.intake.importer import import_path, import_records
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry
from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.lines.models import (
    Bundle,
    BundleMember,
    FamilyMember,
    Line,
    Owner,
    PaymentRoute,
    PendingOrder,
)
from xiaohu.runtime import Context, Runtime


def test_load_returns_lines_with_balances_on_the_ledger(ctx: Context) -> None:
    shared = owner()
    a, b = load(
        ctx,
        line_record(owner=shared),
        line_record(owner=shared, province="44", balance={"cash_fen": 100, "gift_fen": 50}),
    )
    assert a.owner_id == b.owner_id
    assert b.province_code == "44"
    assert line_balance(ctx.session, "subscriber_cash:44", b.id) == 100 == b.cash_fen
    assert line_balance(ctx.session, "subscriber_gift:44", b.id) == 50 == b.gift_fen
    assert verify(ctx.settings.key, a.msisdn, a.service_password_hash, SERVICE_PASSWORD)
    assert trial_balance(ctx.session)["balanced"]
    assert ctx.session.scalar(select(func.count()).select_from(Line)) == 2


def _full(**overrides: object) -> dict[str, object]:
    return line_record(
        province="44",
        balance={"cash_fen": 5000, "gift_fen": 2000},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        usage_unbilled_fen=1200,
        bundle={"id": "BB-1", "broadband_account": "01012345678", "role": "anchor"},
        family={"group_id": "F-1", "role": "primary"},
        contracts=example_contracts(),
        pending_orders=[{"id": "O-1", "kind": "plan_change"}],
        bank_collection_pending=True,
        **overrides,
    )


def test_full_record_writes_everything(ctx: Context) -> None:
    (line,) = load(ctx, _full())
    s = ctx.session
    assert s.scalar(select(Bill.amount_fen).where(Bill.line_id == line.id)) == 3800
    assert s.scalar(select(UsageRecord.amount_fen).where(UsageRecord.line_id == line.id)) == 1200
    history = dict(
        s.execute(
            select(UsageHistory.seq, UsageHistory.amount_fen).where(UsageHistory.line_id == line.id)
        ).all()
    )
    assert history == {1: 2500, 2: 1800, 3: 2100}
    assert s.scalar(select(Bundle.anchor_line_id).where(Bundle.id == "BB-1")) == line.id
    assert s.scalar(select(FamilyMember.role).where(FamilyMember.line_id == line.id)) == "primary"
    kinds = set(s.scalars(select(Contract.kind).where(Contract.line_id == line.id)))
    assert kinds == {"handset", "premium_number"}
    assert s.scalar(select(PendingOrder.status).where(PendingOrder.line_id == line.id)) == "open"
    assert s.scalar(select(PaymentRoute.kind).where(PaymentRoute.line_id == line.id)) == "alipay"
    assert line.bank_collection_pending is True
    assert line_balance(s, "receivables:44", line.id) == -3800  # an asset: debit-normal
    assert trial_balance(s)["balanced"]
    assert count_events(s) == 1


def test_reimport_updates_and_posts_only_the_difference(ctx: Context) -> None:
    record = _full()
    (line,) = load(ctx, record)
    changed = dict(
        record,
        status="retained",
        balance={"cash_fen": 700, "gift_fen": 0},
        unpaid_bills=[],
        contracts=[],
        family=None,
    )
    (again,) = load(ctx, changed)
    assert again.id == line.id
    assert (again.status, again.cash_fen, again.gift_fen) == ("retained", 700, 0)
    s = ctx.session
    assert line_balance(s, "subscriber_cash:44", line.id) == 700
    assert line_balance(s, "subscriber_gift:44", line.id) == 0
    assert line_balance(s, "receivables:44", line.id) == 0
    assert s.scalar(select(func.count()).select_from(Contract)) == 0
    assert s.scalar(select(func.count()).select_from(FamilyMember)) == 0
    assert trial_balance(s)["balanced"]
    # The same file twice: the same state.
    load(ctx, changed)
    assert line_balance(s, "subscriber_cash:44", line.id) == 700
    assert s.scalar(select(func.count()).select_from(Line)) == 1
    assert s.scalar(select(func.count()).select_from(UsageHistory)) == 3


# ---- bad input: each is named by line and field, and nothing is half-written

TABLES = (Owner, Line, Bill, UsageHistory, Contract, PaymentRoute, JournalEntry)


def _counts(ctx: Context) -> dict[str, int]:
    return {
        t.__tablename__: ctx.session.scalar(select(func.count()).select_from(t)) or 0
        for t in TABLES
    }


def _refused(ctx: Context, *records: dict[str, Any]) -> list[dict[str, Any]]:
    before = _counts(ctx)
    with pytest.raises(DomainError) as info:
        import_records(ctx, list(records))
    assert info.value.code == "IMPORT_INVALID"
    assert _counts(ctx) == before
    return info.value.errors or []


def test_bad_records_are_refused_whole(ctx: Context) -> None:
    good = _full()
    bad = line_record(
        owner={"name": "张三", "id_type": "resident_id", "id_number": "110101199003078031"}
    )
    errors = _refused(ctx, good, bad)
    assert errors == [{"line": 2, "field": "owner.id_number", "reason": errors[0]["reason"]}]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"home": {"province_code": "99"}}, "home.province_code"),
        ({"status": "asleep"}, "status"),
        ({"balance": {"cash_fen": -100}}, "balance.cash_fen"),
        ({"plan": {"code": "X", "name": "Y"}}, "plan.monthly_fee_fen"),
        ({"colour": "red"}, "colour"),
        ({"usage_history_fen": "2100"}, "usage_history_fen"),
        (
            {"contracts": [{"id": "C-1", "kind": "handset"}, {"id": "C-2", "kind": "x"}]},
            "contracts[1].kind",
        ),
    ],
)
def test_each_bad_input_names_record_and_field(
    ctx: Context, override: dict[str, Any], field: str
) -> None:
    errors = _refused(ctx, line_record(), line_record(**override))
    assert [(e["line"], e["field"]) for e in errors] == [(2, field)]


def test_duplicate_number_within_one_import(ctx: Context) -> None:
    a = line_record()
    errors = _refused(ctx, a, line_record(), dict(a))
    assert [(e["line"], e["field"]) for e in errors] == [(3, "msisdn")]
    assert "line 1" in errors[0]["reason"]


def test_sixth_line_for_one_id_counts_the_database(ctx: Context) -> None:
    person = owner()
    load(ctx, *(line_record(owner=person) for _ in range(4)))
    errors = _refused(ctx, line_record(owner=person), line_record(owner=person))
    assert [(e["line"], e["field"]) for e in errors] == [(2, "owner.id_number")]
    # re-importing an existing number of that owner is not a new line
    existing = ctx.session.scalars(select(Line.msisdn)).first()
    load(ctx, line_record(owner=person), line_record(owner=person, msisdn=existing))
    assert ctx.session.scalar(select(func.count()).select_from(Line)) == 5


def test_cancelled_number_cannot_be_imported_again(ctx: Context) -> None:
    record = line_record()
    (line,) = load(ctx, record)
    line.status = "cancelled"
    ctx.session.flush()
    errors = _refused(ctx, record)
    assert errors[0]["field"] == "msisdn"


def test_skip_invalid_writes_the_valid_ones(ctx: Context) -> None:
    result = import_records(
        ctx, [line_record(), line_record(status="x"), line_record()], skip_invalid=True
    )
    assert (result.imported, result.skipped) == (2, 1)
    assert [e.line for e in result.errors] == [2]
    assert ctx.session.scalar(select(func.count()).select_from(Line)) == 2


def test_home_derived_or_required(ctx: Context) -> None:
    (derived,) = load(ctx, line_record(msisdn="13800138000"))
    assert derived.province_code == "11" and derived.city
    errors = _refused(ctx, line_record(msisdn="19900000001"))
    assert errors[0]["field"] == "home"
    (given_home,) = load(ctx, line_record(msisdn="19900000001", home={"province_code": "54"}))
    assert given_home.province_code == "54"


def test_reimport_keeps_cash_equal_to_ledger_for_every_line(ctx: Context) -> None:
    records = [_full(), line_record(balance={"cash_fen": 0, "gift_fen": 300}), line_record()]
    load(ctx, *records)
    records[1] = dict(
        records[1], balance={"cash_fen": 900, "gift_fen": 0}, home={"province_code": "31"}
    )
    records[0] = dict(
        records[0],
        unpaid_bills=[
            {"period": "2026-09", "amount_fen": 100},
            {"period": "2026-10", "amount_fen": 200},
        ],
    )
    lines = load(ctx, *records)
    s = ctx.session
    for line in lines:
        p = line.province_code
        assert line_balance(s, f"subscriber_cash:{p}", line.id) == line.cash_fen
        assert line_balance(s, f"subscriber_gift:{p}", line.id) == line.gift_fen
    assert lines[1].province_code == "31"
    assert line_balance(s, "subscriber_gift:11", lines[1].id) == 0
    assert line_balance(s, "receivables:44", lines[0].id) == -300
    assert trial_balance(s)["balanced"]
    assert count_events(s) == 2  # one per import, not one per line


# ---- files


def _write(path: Path, *records: dict[str, Any], extra: str = "") -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + extra,
        encoding="utf-8",
    )
    return path


def _line_count(runtime: Runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Line)) or 0


def test_import_path_all_or_nothing(runtime: Runtime, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", line_record(), line_record(), extra="{not json\n")
    result = import_path(runtime, path, skip_invalid=False, show_progress=False)
    assert result.imported == 0
    assert [(e.line, e.field) for e in result.errors] == [(3, "(record)")]
    assert result.errors[0].reason.startswith("not valid JSON")
    assert _line_count(runtime) == 0


def test_import_path_skip_invalid(runtime: Runtime, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", line_record(), line_record(status="x"), line_record())
    result = import_path(runtime, path, skip_invalid=True, show_progress=False)
    assert (result.imported, result.skipped) == (2, 1)
    assert _line_count(runtime) == 2


def test_import_path_in_batches_with_workers(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH", 3)
    records = [line_record(province=p) for p in ("11", "44", "31", "54", "65", "15", "45", "64")]
    path = _write(tmp_path / "a.jsonl", *records)
    result = import_path(runtime, path, skip_invalid=False, show_progress=False, workers=2)
    assert result.imported == 8
    assert _line_count(runtime) == 8
    with runtime.sessions() as s:
        assert trial_balance(s)["balanced"]


def test_cli_reports_errors_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from xiaohu.cli import app
    from xiaohu.config import get_settings

    monkeypatch.setenv("XIAOHU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("XIAOHU_MODE", "sandbox")
    get_settings.cache_clear()
    try:
        bad = _write(tmp_path / "bad.jsonl", line_record(), line_record(balance={"cash_fen": -1}))
        result = CliRunner().invoke(app, ["import", str(bad)])
        assert result.exit_code == 1
        assert "line 2: balance.cash_fen: must not be negative" in result.output
        ok = CliRunner().invoke(app, ["import", str(bad), "--skip-invalid"])
        assert ok.exit_code == 0, ok.output
        assert "imported 1 line(s), skipped 1 invalid" in ok.output
    finally:
        get_settings.cache_clear()


def test_import_path_twice_same_state(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH", 2)
    shared = owner()
    records = [
        _full(owner=shared),
        line_record(owner=shared, bundle={"id": "BB-1", "role": "member"}),
        line_record(family={"group_id": "F-1", "role": "member"}),
        line_record(balance={"cash_fen": 0, "gift_fen": 700}),
        line_record(province="65"),
    ]
    path = _write(tmp_path / "a.jsonl", *records)
    for _ in range(2):
        result = import_path(runtime, path, skip_invalid=False, show_progress=False, workers=1)
        assert result.errors == [] and result.imported == 5
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Line)) == 5
        assert s.scalar(select(func.count()).select_from(Owner)) == 4
        assert s.scalar(select(func.count()).select_from(BundleMember)) == 2
        assert s.scalar(select(func.count()).select_from(FamilyMember)) == 2
        assert trial_balance(s)["balanced"]
        for line in s.scalars(select(Line)):
            p = line.province_code
            assert line_balance(s, f"subscriber_cash:{p}", line.id) == line.cash_fen
            assert line_balance(s, f"subscriber_gift:{p}", line.id) == line.gift_fen
        assert count_events(s) == 2


def test_invalid_utf8_is_an_error_not_a_guess(runtime: Runtime, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", line_record())
    with path.open("ab") as fh:
        fh.write(b'{"msisdn": "\xff\xfe"}\n')
    result = import_path(runtime, path, skip_invalid=False, show_progress=False)
    assert [(e.line, e.field) for e in result.errors] == [(2, "(record)")]
    assert "UTF-8" in result.errors[0].reason
