"""The demo-numbers table is true: each row is what the real check answers, on the day."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest

from xiaohu.cancellation.schemas import CheckOut
from xiaohu.cancellation.service import check
from xiaohu.demo.data import write
from xiaohu.demo.numbers import find_demo_numbers
from xiaohu.intake.importer import import_records
from xiaohu.kit.clock import FrozenClock
from xiaohu.runtime import Context

EVERY_BLOCKER = {
    "ARREARS",
    "ABNORMAL_STATE",
    "NOT_REAL_NAME",
    "CONTRACT_ACTIVE",
    "PREMIUM_MIN_SPEND",
    "BROADBAND_BOUND",
    "FAMILY_PRIMARY",
    "PENDING_ORDER",
    "BANK_COLLECTION_PENDING",
    "CHANNEL_NOT_ALLOWED",
}


def _codes(c: CheckOut) -> list[str]:
    return [b.code for b in c.blockers]


def _extra(c: CheckOut, name: str) -> Any:
    return (c.blockers[0].model_extra or {}).get(name)


# What each row's words promise, written apart from the module's own predicates.
CLAIMS: dict[str, Any] = {
    "clean line": lambda c: (
        c.eligible and c.quote.refund_now_fen > 0 and c.quote.forfeited_fen == 0
    ),
    "gift credit": lambda c: (
        c.eligible
        and c.quote.refund_now_fen > 0
        and c.quote.forfeited_fen > 0
        and "GIFT_FORFEITED" in [w.code for w in c.warnings]
    ),
    "arrears:": lambda c: _codes(c) == ["ARREARS"],
    "arrears suspension": lambda c: _codes(c) == ["ARREARS"],
    "handset contract": lambda c: (
        _codes(c) == ["CONTRACT_ACTIVE"] and _extra(c, "kind") == "handset"
    ),
    "premium number": lambda c: _codes(c) == ["PREMIUM_MIN_SPEND"] and _extra(c, "lifetime"),
    "broadband anchor": lambda c: _codes(c) == ["BROADBAND_BOUND"],
    "family primary": lambda c: _codes(c) == ["FAMILY_PRIMARY"],
    "pending order": lambda c: _codes(c) == ["PENDING_ORDER"],
    "bank direct debit": lambda c: _codes(c) == ["BANK_COLLECTION_PENDING"],
    "lost": lambda c: _codes(c) == ["ABNORMAL_STATE"] and _extra(c, "state") == "lost",
    "fraud stop": lambda c: (
        _codes(c) == ["ABNORMAL_STATE"] and _extra(c, "state") in ("fraud_stop", "judicial_freeze")
    ),
    "retained": lambda c: c.eligible,
    "passport holder": lambda c: _codes(c) == ["CHANNEL_NOT_ALLOWED"],
    "never real-name": lambda c: _codes(c) == ["NOT_REAL_NAME"],
    "several lines": lambda c: c.eligible,
    "every blocker": lambda c: set(_codes(c)) >= EVERY_BLOCKER,
}


def _claim(shows: str) -> Any:
    (claim,) = [v for k, v in CLAIMS.items() if k in shows]
    return claim


@pytest.fixture()
def demo_ctx(ctx: Context) -> Context:
    buf = io.StringIO()
    write(buf, lines=1500, seed=11, show_progress=False)
    result = import_records(ctx, [json.loads(x) for x in buf.getvalue().splitlines()])
    assert result.errors == []
    return ctx


@pytest.mark.parametrize("later_days", [0, 6, 45, 200])
def test_each_row_is_what_the_real_check_shows_on_the_day(
    demo_ctx: Context, clock: FrozenClock, later_days: int
) -> None:
    clock.advance(dt.timedelta(days=later_days))
    numbers = find_demo_numbers(demo_ctx)
    assert len({n.msisdn for n in numbers}) == len(numbers), "a number twice in the table"
    shown = [n.shows for n in numbers]
    for must in ("clean line", "arrears:", "handset contract", "family primary", "every blocker"):
        assert any(must in s for s in shown), must
    for n in numbers:
        answer = check(demo_ctx, n.msisdn)
        assert _claim(n.shows)(answer), (n.shows, n.msisdn, _codes(answer), answer.quote)
        assert n.password_ok


def test_the_generated_data_has_a_line_with_every_blocker(demo_ctx: Context) -> None:
    (row,) = [n for n in find_demo_numbers(demo_ctx) if n.shows.startswith("every blocker")]
    answer = check(demo_ctx, row.msisdn)
    assert set(_codes(answer)) == EVERY_BLOCKER
    assert all(b.remedy is not None for b in answer.blockers)
