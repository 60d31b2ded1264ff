"""Closing a cycle: late usage, the true-up of the reserve, numbers leaving quarantine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import line_record, load, owner
from xiaohu.audit.models import AuditEvent
from xiaohu.billing.models import Bill, Refund
from xiaohu.billing.service import add_usage, arrears_fen
from xiaohu.cancellation import service
from xiaohu.cancellation.cycle import run_close_cycle
from xiaohu.cancellation.models import Cancellation
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalTransaction
from xiaohu.lines.addressing import NO_OTHER_LINE
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock

CST = dt.timezone(dt.timedelta(hours=8))
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def cancelled(ctx: Context, **kw: Any) -> tuple[dict[str, Any], Cancellation]:
    """A line cancelled on 2026-11-24 with a 2133-fen reserve, committed."""
    route = kw.pop("route", None)
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    rec = line_record(province="33", **values)
    load(ctx, rec)
    extra = {"refund_route": route} if route else {}
    out = service.cancel(
        ctx, rec["msisdn"], request_for(rec, service.check(ctx, rec["msisdn"]), **extra)
    )
    ctx.session.commit()
    c = ctx.session.get(Cancellation, out.id)
    assert c is not None
    return rec, c


def at(ctx: Context, when: dt.datetime) -> None:
    set_clock(ctx.session, when)
    ctx.session.commit()


def test_reserve_less_late_usage_is_refunded_and_the_account_closed(
    ctx: Context, runtime: Runtime
) -> None:
    rec, c = cancelled(ctx)
    assert c.reserve_fen == 2133
    add_usage(ctx, rec["msisdn"], 500)
    at(ctx, DEC_1)
    report = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert report["settled"] == 1 and report["late_usage_fen"] == 500
    assert report["trued_up_fen"] == 1633 and report["shortfall_fen"] == 0
    ctx.session.expire_all()
    assert (c.account_status, c.trued_up_fen, c.late_usage_fen) == ("closed", 1633, 500)
    assert c.closed_at == DEC_1
    out = service.get_cancellation(ctx, c.id)
    assert out.settlement is not None and out.settlement.trued_up_fen == 1633
    line = ctx.session.get(Line, c.line_id)
    assert line is not None and line.cash_fen == 0
    refunds = ctx.session.execute(
        select(Refund.kind, Refund.amount_fen)
        .where(Refund.cancellation_id == c.id)
        .order_by(Refund.created_at)
    ).all()
    assert [tuple(r) for r in refunds] == [("now", 15467), ("true_up", 1633)]
    assert_books_consistent(ctx.session)
    texts = ctx.session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.topic == "sms")
    ).all()
    # The owner has no other line: the settlement notice goes nowhere, recorded as not sent.
    assert not any(t["kind"] == "cancellation.settled" for t in texts)
    withheld = ctx.session.scalars(
        select(AuditEvent.data).where(AuditEvent.action == "sms.not_sent")
    ).all()
    assert {"kind": "cancellation.settled", "reason": NO_OTHER_LINE} in withheld


def test_running_twice_changes_nothing(ctx: Context, runtime: Runtime) -> None:
    rec, _c = cancelled(ctx)
    add_usage(ctx, rec["msisdn"], 100)
    at(ctx, DEC_1)
    run_close_cycle(runtime, "2026-11", show_progress=False)
    journal = ctx.session.scalar(select(func.count()).select_from(JournalTransaction))
    second = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert second["settled"] == 0 and second["trued_up_fen"] == 0
    assert second["numbers_released"] == 0
    assert ctx.session.scalar(select(func.count()).select_from(JournalTransaction)) == journal
    assert ctx.session.scalar(select(func.count()).select_from(Refund)) == 2


def test_late_usage_beyond_the_reserve_is_arrears_of_the_closed_account(
    ctx: Context, runtime: Runtime
) -> None:
    rec, c = cancelled(ctx)
    add_usage(ctx, rec["msisdn"], 3000)
    at(ctx, DEC_1)
    report = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert report["shortfall_fen"] == 3000 - 2133 and report["trued_up_fen"] == 0
    ctx.session.expire_all()
    bill = ctx.session.scalars(
        select(Bill).where(Bill.line_id == c.line_id, Bill.kind == "late_usage")
    ).one()
    assert (bill.amount_fen, bill.paid_fen, bill.status) == (3000, 2133, "unpaid")
    assert arrears_fen(ctx.session, [c.line_id]) == 867
    assert c.shortfall_fen == 867
    assert_books_consistent(ctx.session)


def test_true_up_of_a_transfer_goes_to_the_other_line(ctx: Context, runtime: Runtime) -> None:
    person = owner()
    other = line_record(province="33", owner=person)
    load(ctx, other)
    _rec, _c = cancelled(
        ctx, owner=person, route={"kind": "transfer", "to_msisdn": other["msisdn"]}
    )
    at(ctx, DEC_1)
    run_close_cycle(runtime, "2026-11", show_progress=False)
    ctx.session.expire_all()
    target = ctx.session.scalars(select(Line).where(Line.msisdn == other["msisdn"])).one()
    # The other line's November bill was paid from its cash before the true-up came in.
    bill = ctx.session.scalars(select(Bill).where(Bill.line_id == target.id)).one()
    assert (bill.kind, bill.status, bill.paid_fen) == ("cycle", "paid", bill.amount_fen)
    assert target.cash_fen == 5000 - bill.amount_fen + 15467 + 2133
    assert_books_consistent(ctx.session)


def test_accounts_inside_the_undo_window_wait_for_the_next_run(
    ctx: Context, runtime: Runtime, clock: Any
) -> None:
    clock.at = dt.datetime(2026, 11, 30, 20, 0, tzinfo=CST).astimezone(dt.UTC)
    _rec, _c = cancelled(ctx)
    at(ctx, DEC_1)
    first = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert first["settled"] == 0 and first["deferred"] == 1
    at(ctx, DEC_1 + dt.timedelta(days=1))
    second = run_close_cycle(runtime, "2026-11", show_progress=False)
    assert second["settled"] == 1 and second["deferred"] == 0


def test_numbers_leave_quarantine_when_it_has_passed(ctx: Context, runtime: Runtime) -> None:
    rec, _c = cancelled(ctx)
    at(ctx, DEC_1)
    assert run_close_cycle(runtime, "2026-11", show_progress=False)["numbers_released"] == 0
    at(ctx, dt.datetime(2027, 3, 1, 9, 0, tzinfo=CST))
    assert run_close_cycle(runtime, "2027-02", show_progress=False)["numbers_released"] == 1
    ctx.session.expire_all()
    number = ctx.session.get(NumberRecord, rec["msisdn"])
    assert number is not None and number.status == "available"


def test_period_must_be_valid_and_ended(ctx: Context, runtime: Runtime) -> None:
    at(ctx, dt.datetime(2026, 11, 30, 23, 59, tzinfo=CST))
    for bad in ("2026-13", "26-11", "2026/11", ""):
        with pytest.raises(DomainError) as err:
            run_close_cycle(runtime, bad, show_progress=False)
        assert err.value.code == "PERIOD_INVALID"
    with pytest.raises(DomainError) as err:
        run_close_cycle(runtime, "2026-11", show_progress=False)
    assert err.value.code == "PERIOD_NOT_ENDED"
