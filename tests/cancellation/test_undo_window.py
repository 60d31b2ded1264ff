"""Every place that asks "is the undo window open" answers as `rules.undo_open` does: the
reversal itself, sign-in to a cancelled number, the check's reversal remedy, the done page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tests.cancellation.support import request_for
from tests.factories import line_record, load
from xiaohu.cancellation import rules, service
from xiaohu.cancellation.models import Cancellation
from xiaohu.identity.service import _signable_line
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context
from xiaohu.web import views

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def _reversible(ctx: Context, cancellation_id: str) -> bool:
    savepoint = ctx.session.begin_nested()
    try:
        service.reverse(ctx, cancellation_id)
    except DomainError as exc:
        assert exc.code == "UNDO_WINDOW_CLOSED"
        return False
    finally:
        savepoint.rollback()
    return True


def _later(hours: int) -> Callable[[Context, FrozenClock, Cancellation], None]:
    def move(ctx: Context, clock: FrozenClock, c: Cancellation) -> None:
        clock.advance(dt.timedelta(hours=hours))

    return move


def _account_closed(ctx: Context, clock: FrozenClock, c: Cancellation) -> None:
    """Trued up (the cycle's close) while the clock is still inside `undo_until`."""
    c.account_status = "closed"
    ctx.session.flush()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_later(1), True),
        (_later(23), True),
        (_later(24), False),
        (_later(100), False),
        (_account_closed, False),
    ],
    ids=["1h", "23h", "24h", "100h", "account-closed"],
)
def test_every_place_agrees_whether_the_undo_window_is_open(
    ctx: Context,
    clock: FrozenClock,
    change: Callable[[Context, FrozenClock, Cancellation], None],
    expected: bool,
) -> None:
    rec = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    msisdn = rec["msisdn"]
    load(ctx, rec)
    out = service.cancel(ctx, msisdn, request_for(rec, service.check(ctx, msisdn)))
    c = ctx.session.get(Cancellation, out.id)
    assert c is not None
    change(ctx, clock, c)

    assert rules.undo_open(c, ctx.now()) is expected
    [notice] = service.check_json(ctx, msisdn)["blockers"]
    answers = {
        "sign-in": _signable_line(ctx, msisdn) is not None,
        "check remedy": notice["remedy"] is not None,
        "done page": views.own_cancellation(ctx, out.id, msisdn)["undo_open"],
        "reversal": _reversible(ctx, out.id),
    }
    assert answers == dict.fromkeys(answers, expected)
