"""Monthly bills in close-cycle: who is billed what, paid from which balance, due when; once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cancellation.support import assert_books_consistent
from tests.factories import line_record, load
from xiaohu.billing.models import Bill, UsageRecord
from xiaohu.billing.service import add_usage
from xiaohu.cancellation import cycle
from xiaohu.cancellation.cycle import run_close_cycle
from xiaohu.lines.models import Line
from xiaohu.notifications.models import SandboxSms
from xiaohu.policy.schema import Policy, Values
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock
from xiaohu.scheduling.models import JobRun

CST = dt.timezone(dt.timedelta(hours=8))
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)
JAN_1 = dt.datetime(2027, 1, 1, 9, 0, tzinfo=CST)
PLAN = 12900  # the factory's plan
PREMIUM = {
    "id": "C-9",
    "kind": "premium_number",
    "starts_on": "2024-01-01",
    "ends_on": None,
    "monthly_minimum_fen": 13800,
}


def at(ctx: Context, when: dt.datetime) -> None:
    set_clock(ctx.session, when)
    ctx.session.commit()


def imported(ctx: Context, **kw: Any) -> Line:
    """A line imported on 2026-11-24 (the tests' clock), committed."""
    kw.setdefault("balance", {"cash_fen": 0, "gift_fen": 0})
    [line] = load(ctx, line_record(**kw))
    ctx.session.commit()
    return line


def bills_of(ctx: Context, line: Line) -> list[tuple[str, str, int, int, str, dt.date | None]]:
    ctx.session.expire_all()
    return [
        (b.period, b.kind, b.amount_fen, b.paid_fen, b.status, b.due_on)
        for b in ctx.session.scalars(
            select(Bill).where(Bill.line_id == line.id).order_by(Bill.period, Bill.kind)
        )
    ]


def close(ctx: Context, runtime: Runtime, period: str, when: dt.datetime) -> dict[str, Any]:
    at(ctx, when)
    report = run_close_cycle(runtime, period, show_progress=False)
    ctx.session.expire_all()
    return report


DUE = dt.date(2026, 12, 15)


def test_an_active_line_pays_its_plan_fee_from_cash_and_gets_an_sms(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(ctx, balance={"cash_fen": 20000, "gift_fen": 0})
    report = close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, line) == [("2026-11", "cycle", PLAN, PLAN, "paid", DUE)]
    assert (report["bills_issued"], report["bills_paid"], report["billed_fen"]) == (1, 1, PLAN)
    assert (report["paid_from_cash_fen"], report["unpaid_fen"], report["sms"]) == (PLAN, 0, 1)
    assert line.cash_fen == 20000 - PLAN
    texts = ctx.session.scalars(select(SandboxSms.text).where(SandboxSms.to == line.msisdn))
    assert list(texts) == [
        "【账单】2026年11月账单¥129.00，已从余额扣缴¥129.00，尚欠¥0.00，缴费截止2026-12-15。"
    ]
    assert_books_consistent(ctx.session)


def test_what_cash_does_not_cover_stays_unpaid_and_due_on_the_policy_day(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(ctx, balance={"cash_fen": 5000, "gift_fen": 0})
    runtime.policy = Policy(defaults=Values(bill_due_day=20))
    report = close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, line) == [
        ("2026-11", "cycle", PLAN, 5000, "unpaid", dt.date(2026, 12, 20))
    ]
    assert (report["bills_paid"], report["unpaid_fen"]) == (0, PLAN - 5000)
    assert line.cash_fen == 0
    text = ctx.session.scalars(select(SandboxSms.text).where(SandboxSms.to == line.msisdn)).one()
    assert "已从余额扣缴¥50.00，尚欠¥79.00，缴费截止2026-12-20" in text
    assert_books_consistent(ctx.session)


def test_gift_pays_the_plan_fee_and_usage_but_not_the_retention_fee_by_default(
    ctx: Context, runtime: Runtime
) -> None:
    active = imported(ctx, balance={"cash_fen": 1000, "gift_fen": 50000})
    retained = imported(ctx, status="retained", balance={"cash_fen": 0, "gift_fen": 50000})
    report = close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, active) == [("2026-11", "cycle", PLAN, PLAN, "paid", DUE)]
    assert (active.cash_fen, active.gift_fen) == (0, 50000 - (PLAN - 1000))
    assert bills_of(ctx, retained) == [("2026-11", "retention", 500, 0, "unpaid", DUE)]
    assert retained.gift_fen == 50000
    assert report["paid_from_gift_fen"] == PLAN - 1000
    assert_books_consistent(ctx.session)


def test_gift_pays_the_retention_fee_where_policy_allows_it(ctx: Context, runtime: Runtime) -> None:
    retained = imported(ctx, status="retained", balance={"cash_fen": 0, "gift_fen": 50000})
    runtime.policy = Policy(defaults=Values(gift_may_pay=["plan_fee", "usage", "retention_fee"]))
    close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, retained) == [("2026-11", "retention", 500, 500, "paid", DUE)]
    assert retained.gift_fen == 50000 - 500
    assert_books_consistent(ctx.session)


def test_a_retained_line_pays_the_plan_fee_in_its_first_month_then_the_fee_and_minimums(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(
        ctx,
        status="retained",
        retained_on="2026-11-10",
        contracts=[PREMIUM],
        balance={"cash_fen": 100000, "gift_fen": 0},
    )
    assert line.retention_starts_on == dt.date(2026, 12, 1)
    close(ctx, runtime, "2026-11", DEC_1)
    close(ctx, runtime, "2026-12", JAN_1)
    assert bills_of(ctx, line) == [
        ("2026-11", "cycle", PLAN, PLAN, "paid", DUE),
        ("2026-12", "retention", 500 + 13800, 500 + 13800, "paid", dt.date(2027, 1, 15)),
    ]
    assert line.cash_fen == 100000 - PLAN - 500 - 13800
    assert_books_consistent(ctx.session)


def test_a_retained_line_keeps_paying_any_contract_minimum_the_fee_the_check_quoted(
    ctx: Context, runtime: Runtime
) -> None:
    converged = {**PREMIUM, "id": "C-8", "kind": "converged", "ends_on": "2027-12-31"}
    ended = {**PREMIUM, "id": "C-7", "kind": "handset", "ends_on": "2026-10-31"}
    line = imported(
        ctx,
        status="retained",
        contracts=[converged, ended],
        balance={"cash_fen": 100000, "gift_fen": 0},
    )
    close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, line) == [("2026-11", "retention", 500 + 13800, 500 + 13800, "paid", DUE)]
    assert_books_consistent(ctx.session)


def test_a_line_retained_before_the_import_pays_the_retention_fee_at_once(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(ctx, status="retained", balance={"cash_fen": 300, "gift_fen": 0})
    assert (line.retained_on, line.retention_starts_on) == (None, dt.date(2026, 11, 1))
    close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, line) == [("2026-11", "retention", 500, 300, "unpaid", DUE)]
    assert_books_consistent(ctx.session)


def test_a_whole_month_of_arrears_suspension_is_not_billed_the_suspension_month_is(
    ctx: Context, runtime: Runtime
) -> None:
    whole = imported(ctx, status="arrears_suspended", suspended_on="2026-10-20")
    during = imported(ctx, status="arrears_suspended", suspended_on="2026-11-05")
    assert (whole.arrears_since, during.arrears_since) == (
        dt.date(2026, 10, 20),
        dt.date(2026, 11, 5),
    )
    close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, whole) == []
    assert bills_of(ctx, during) == [("2026-11", "cycle", PLAN, 0, "unpaid", DUE)]
    close(ctx, runtime, "2026-12", JAN_1)
    assert [b[0] for b in bills_of(ctx, during)] == ["2026-11"]  # December: a whole month
    assert_books_consistent(ctx.session)


def test_a_line_reactivated_during_the_month_pays_it_in_full(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(ctx, status="arrears_suspended", suspended_on="2026-09-01")
    line.status, line.arrears_since = "active", None  # reactivated on 2026-11-24
    ctx.session.commit()
    close(ctx, runtime, "2026-11", DEC_1)
    assert bills_of(ctx, line) == [("2026-11", "cycle", PLAN, 0, "unpaid", DUE)]


def test_lines_opened_after_the_period_or_not_in_service_get_no_bill(
    ctx: Context, runtime: Runtime
) -> None:
    later = imported(ctx, opened_on="2026-12-01")
    lost = imported(ctx, status="lost")
    frozen = imported(ctx, status="judicial_freeze")
    report = close(ctx, runtime, "2026-11", DEC_1)
    assert report["bills_issued"] == 0
    assert bills_of(ctx, later) == bills_of(ctx, lost) == bills_of(ctx, frozen) == []


def test_usage_of_the_period_is_billed_once_later_usage_next_month(
    ctx: Context, runtime: Runtime
) -> None:
    line = imported(ctx, balance={"cash_fen": 100000, "gift_fen": 0})
    add_usage(ctx, line.msisdn, 300, source="network", occurred_at=DEC_1 - dt.timedelta(days=3))
    ctx.session.commit()
    close(ctx, runtime, "2026-11", DEC_1)
    add_usage(ctx, line.msisdn, 700, source="network", occurred_at=DEC_1 + dt.timedelta(hours=1))
    ctx.session.commit()
    again = close(ctx, runtime, "2026-11", DEC_1 + dt.timedelta(hours=2))
    assert again["bills_issued"] == 0
    close(ctx, runtime, "2026-12", JAN_1)
    assert [(b[0], b[2]) for b in bills_of(ctx, line)] == [
        ("2026-11", PLAN + 300),
        ("2026-12", PLAN + 700),
    ]
    records = ctx.session.execute(
        select(UsageRecord.amount_fen, UsageRecord.billed, Bill.period)
        .join(Bill, Bill.id == UsageRecord.bill_id)
        .where(UsageRecord.line_id == line.id)
        .order_by(UsageRecord.amount_fen)
    ).all()
    assert [tuple(r) for r in records] == [(300, True, "2026-11"), (700, True, "2026-12")]
    assert_books_consistent(ctx.session)


def test_a_repeated_run_issues_nothing(ctx: Context, runtime: Runtime) -> None:
    line = imported(ctx, balance={"cash_fen": 20000, "gift_fen": 0})
    close(ctx, runtime, "2026-11", DEC_1)
    second = close(ctx, runtime, "2026-11", DEC_1)
    assert (second["bills_issued"], second["sms"], second["billed_fen"]) == (0, 0, 0)
    assert len(bills_of(ctx, line)) == 1 and line.cash_fen == 20000 - PLAN
    assert ctx.session.scalar(select(func.count()).select_from(SandboxSms)) == 1
    assert_books_consistent(ctx.session)


class Crash(RuntimeError):
    pass


def test_a_run_killed_after_some_chunks_resumes_and_bills_each_line_once(
    ctx: Context, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [imported(ctx, balance={"cash_fen": 6000 * i, "gift_fen": 0}) for i in range(5)]
    first_id = min(line.id for line in lines)
    monkeypatch.setattr(cycle, "CHUNK_LINES", 1)
    real = cycle.issue_chunk
    calls = {"n": 0}

    def crashing(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # the third chunk dies before it commits
            raise Crash("killed")
        return real(*args, **kw)

    monkeypatch.setattr(cycle, "issue_chunk", crashing)
    at(ctx, DEC_1)
    with pytest.raises(Crash):
        run_close_cycle(runtime, "2026-11", show_progress=False)
    ctx.session.expire_all()
    run = ctx.session.scalars(select(JobRun).where(JobRun.job == "close-cycle")).one()
    assert run.status == "running"
    assert run.report["bills_issued"] == 2 and int(run.cursor or 0) > first_id
    monkeypatch.setattr(cycle, "issue_chunk", real)
    report = close(ctx, runtime, "2026-11", DEC_1)
    assert report["bills_issued"] == 5  # the two chunks before the crash, and the rest
    for line in lines:
        assert len(bills_of(ctx, line)) == 1
    assert ctx.session.scalar(select(func.count()).select_from(SandboxSms)) == 5
    run = ctx.session.scalars(select(JobRun).where(JobRun.job == "close-cycle")).one()
    assert run.status == "done"
    assert_books_consistent(ctx.session)
