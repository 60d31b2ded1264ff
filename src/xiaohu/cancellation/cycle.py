"""Closing a billing cycle: monthly bills, late usage, the true-up of settling accounts,
numbers released.

The period's monthly bills come first (`billing.monthly`: set-based, a chunk of line ids a
transaction, the cursor in `job_runs` so a killed run resumes after the last committed chunk).

A cancelled line stops at once, but its account stays `settling` until the cycle it was
cancelled in has closed and every late usage record (roaming arrives late) is rated. This run
then pays late usage from the reserve still held, refunds the rest automatically to the route
the subscriber chose (a `Refund` of kind `true_up`), or, when late usage exceeds the reserve,
leaves the shortfall as an unpaid bill of the closed account (owner-scoped arrears see it).

Late usage in the sandbox: any `UsageRecord` of a cancelled line still unbilled when the run
reaches it (the cancellation bills only the usage its quote counted; records that arrive later,
`source="late"`, are added by the network feed or by tests and the sandbox endpoint
`POST /api/v1/sandbox/usage`). Accounts still inside their undo window are left for the next
run. One transaction per batch; running it again changes nothing (closed accounts are skipped,
released numbers stay released).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from xiaohu.audit.service import line_event
from xiaohu.billing import monthly
from xiaohu.billing.models import Bill, UsageRecord
from xiaohu.billing.monthly import issue_chunk
from xiaohu.billing.monthly_rules import Period
from xiaohu.billing.payouts import TOPIC as PAYOUT_TOPIC
from xiaohu.billing.payouts import payable_leg, refund_to_route
from xiaohu.billing.rules import (
    BillKind,
    BillStatus,
    RefundKind,
    RefundRoute,
    RefundRouteKind,
    true_up,
)
from xiaohu.billing.service import post_charge
from xiaohu.billing.transfers import transfer_leg
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import AccountStatus, CancellationStatus
from xiaohu.invoices import service as invoices
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR
from xiaohu.kit.clock import FrozenClock, local_date, parse_period, period_bounds, start_of_day
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan
from xiaohu.kit.progress import progress
from xiaohu.ledger.rules import credit, debit
from xiaohu.ledger.service import post
from xiaohu.lines.addressing import sms_about
from xiaohu.lines.models import Line, LineStatus
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import enqueue
from xiaohu.numbers.service import release_due
from xiaohu.runtime import Context, Runtime
from xiaohu.scheduling.service import Holder, holding

BATCH = 200
ACTOR = "run:close-cycle"
JOB = "close-cycle"
CHUNK_LINES = monthly.CHUNK
# A run that wrote at most this many SMS delivers them before it returns (the sandbox and the
# tests see them at once); a bigger one leaves them to the outbox worker of the served process,
# rather than sending a million messages inline at the end of the run.
INLINE_SMS = 5_000


@dataclass
class Report:
    period: str
    ran_at: str = ""
    settled: int = 0
    deferred: int = 0
    late_usage_fen: int = 0
    late_usage_records: int = 0
    trued_up_fen: int = 0
    refunds: int = 0
    shortfall_fen: int = 0
    numbers_released: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        return out


def check_period(period: str, now: dt.datetime) -> dt.datetime:
    """The instant the period closes (Shanghai midnight after its last day); refuses a
    malformed period or one the clock has not yet passed."""
    try:
        year, _ = parse_period(period)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
        closes_at = start_of_day(period_bounds(period)[1])
    except ValueError as exc:
        raise DomainError(
            "PERIOD_INVALID",
            f"period {period!r}: {exc}",
            errors=[{"field": "period", "reason": str(exc)}],
        ) from exc
    if now < closes_at:
        raise DomainError(
            "PERIOD_NOT_ENDED",
            f"period {period} closes at {closes_at.isoformat()}; it is {now.isoformat()}",
            closes_at=closes_at,
        )
    return closes_at


def run_close_cycle(runtime: Runtime, period: str, *, show_progress: bool | None) -> dict[str, Any]:
    """Close `period` on every node at once (each holds its provinces' lines), the totals
    added up; one node: the run below as it is. (The nodes' runs report no progress bars:
    several at once on one terminal would tear each other.)"""
    if not runtime.nodes.national:
        return close_cycle_on_node(runtime, period, show_progress=show_progress)
    reports = runtime.on_every_node(lambda rt: close_cycle_on_node(rt, period, show_progress=False))
    return {**add_reports(list(reports.values())), "nodes": reports}


def add_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The nodes' reports of one run as one: counts added up, a flag true if any node's is,
    anything else (a date, a period) as the first node has it."""
    total: dict[str, Any] = {}
    for report in reports:
        for key, value in report.items():
            had = total.get(key)
            if key not in total:
                total[key] = dict(value) if isinstance(value, dict) else value
            elif isinstance(value, bool):
                total[key] = bool(had) or value
            elif isinstance(value, int) and isinstance(had, int):
                total[key] = had + value
            elif isinstance(value, dict) and isinstance(had, dict):
                total[key] = add_reports([had, value])
    return total


def close_cycle_on_node(
    runtime: Runtime, period: str, *, show_progress: bool | None
) -> dict[str, Any]:
    """Close `period` on the runtime's node: issue its monthly bills, true up every settling
    account of it or earlier, release numbers. Holds the `close-cycle` job (`JOB_RUNNING`
    while another process runs it); killed mid-way, the next run resumes after the last
    chunk of bills committed."""
    with transaction(runtime.sessions, readonly=True) as session:
        now = runtime.clock_for(session).now()
        closes_at = check_period(period, now)
    with holding(runtime, JOB) as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, period, now)
        bills = issue_bills(runtime, holder, Period.of(period), now, closes_at, show_progress)
        report = true_ups(runtime, period, now, show_progress)
        with transaction(runtime.sessions) as session:
            # What rested until the period's close: a close run later (the scheduler catching
            # up) leaves the days after it to their own lifecycle runs, which release the rest.
            ctx = Context(runtime, session, FrozenClock(now), ACTOR)
            report.numbers_released = release_due(ctx, min(now, closes_at))
        report.extra.update(bills)
        with transaction(runtime.sessions) as session:
            holder.finish(session, report.as_dict(), now)
    if bills.get("sms", 0) <= INLINE_SMS:  # more: the served process's outbox worker sends them
        for _ in range(1000):  # deliver the SMS and payout orders the run wrote
            if runtime.deliver_outbox(limit=500) == 0:
                break
    return report.as_dict()


def issue_bills(
    runtime: Runtime,
    holder: Holder,
    period: Period,
    now: dt.datetime,
    closes_at: dt.datetime,
    show_progress: bool | None,
) -> dict[str, Any]:
    """The period's monthly bills (`billing.monthly`), a chunk of line ids a transaction,
    from where an interrupted run of the period stopped; its counts (so far, when resumed)."""
    with transaction(runtime.sessions, readonly=True) as session:
        first_id, last_id = monthly.line_id_span(session)
        groups = monthly.terms_by_province(
            monthly.provinces(session), runtime.policy.for_province, period.last
        )
    counts: dict[str, Any] = {name: 0 for name in monthly.COUNTS}
    counts.update({k: v for k, v in holder.report.items() if k in monthly.COUNTS})
    start = first_id if holder.cursor is None else int(holder.cursor)
    with progress(
        f"close-cycle {period.name}", max(last_id + 1 - start, 0), enabled=show_progress
    ) as tick:
        for lo in range(start, last_id + 1, CHUNK_LINES):
            hi = min(lo + CHUNK_LINES, last_id + 1)
            with transaction(runtime.sessions) as session:
                issue_chunk(session, period, lo, hi, groups, now=now, closes_at=closes_at).add_to(
                    counts
                )
                holder.advance(session, str(hi), counts, now)
            tick(hi - lo)
    return counts


def true_ups(runtime: Runtime, period: str, now: dt.datetime, show_progress: bool | None) -> Report:
    """True up every settling account of `period` or earlier, then release numbers."""
    with transaction(runtime.sessions, readonly=True) as session:
        due = (
            Cancellation.account_status == AccountStatus.SETTLING,
            Cancellation.period <= period,
        )
        ids = list(
            session.scalars(
                select(Cancellation.id)
                .where(*due, Cancellation.undo_until <= now)
                .order_by(Cancellation.cancelled_at, Cancellation.id)
            )
        )
        deferred = session.scalar(
            select(func.count())
            .select_from(Cancellation)
            .where(*due, Cancellation.undo_until > now)
        )
    clock = FrozenClock(now)
    report = Report(period=period, ran_at=now.isoformat(), deferred=int(deferred or 0))
    with progress(f"true-up {period}", len(ids), enabled=show_progress) as tick:
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            with transaction(runtime.sessions) as session:
                ctx = Context(runtime, session, clock, ACTOR)
                for cid in batch:
                    settle(ctx, cid, report)
            tick(len(batch))
    return report


def settle(ctx: Context, cancellation_id: str, report: Report) -> bool:
    """True up one settling account; False when another run already did."""
    c = ctx.session.get(Cancellation, cancellation_id)
    if c is None:
        return False
    line = lock_line(ctx.session, c.msisdn)
    ctx.session.refresh(c)
    if c.account_status != AccountStatus.SETTLING or c.status != CancellationStatus.CANCELLED:
        return False
    now, p, ref = ctx.now(), line.province_code, f"true_up:{c.id}"
    records = ctx.session.scalars(
        select(UsageRecord).where(UsageRecord.line_id == line.id, UsageRecord.billed.is_(False))
    ).all()
    late = sum(r.amount_fen for r in records)
    t = true_up(line.cash_fen, late)
    if late > 0:
        post_charge(ctx, line, "late_usage", late, ref=ref)
        bill = _late_bill(ctx, c, line, late, t.paid_from_cash_fen)
        ctx.session.execute(
            update(UsageRecord)
            .where(UsageRecord.id.in_([r.id for r in records]))
            .values(billed=True, bill_id=bill.id)
            .execution_options(synchronize_session=False)
        )
    post(
        ctx.session,
        "true_up.late_usage_settled",
        [
            debit(f"subscriber_cash:{p}", t.paid_from_cash_fen, line.id),
            credit(f"receivables:{p}", t.paid_from_cash_fen, line.id),
        ],
        at=now,
        ref=ref,
        province_code=p,
    )
    route = _payout_route(ctx, c)
    target = _transfer_target(ctx, route)
    if t.refund_fen > 0:
        to_leg = (  # a target in another province: a due to it (`billing.transfers`)
            transfer_leg(ctx, home=p, target=target, amount_fen=t.refund_fen, ref=ref)
            if target is not None
            else payable_leg(p, t.refund_fen, line.id)  # owed until the payout is confirmed
        )
        post(
            ctx.session,
            "true_up.refund",
            [debit(f"subscriber_cash:{p}", t.refund_fen, line.id), to_leg],
            at=now,
            ref=ref,
            province_code=p,
        )
        payout = refund_to_route(
            ctx.session,
            cancellation_id=c.id,
            line_id=line.id,
            msisdn=c.msisdn,
            province_code=p,
            kind=RefundKind.TRUE_UP,
            amount_fen=t.refund_fen,
            route=route,
            at=now,
        )
        if payout is not None:
            enqueue(ctx.session, PAYOUT_TOPIC, payout, at=now, province_code=p)
        report.refunds += 1
    line.cash_fen -= t.paid_from_cash_fen + t.refund_fen
    line.updated_at = now
    c.late_usage_fen, c.trued_up_fen, c.shortfall_fen = late, t.refund_fen, t.shortfall_fen
    c.account_status, c.closed_at = AccountStatus.CLOSED, now
    sms_about(  # the number is cancelled: to the owner's other line, if any
        ctx,
        line,
        f"【销户服务】受理编号{c.reference}的账户已完成结算：迟到话单{yuan(late)}，"
        + (
            f"尚欠{yuan(t.shortfall_fen)}，请及时缴纳。"
            if t.shortfall_fen
            else f"预留款余额{yuan(t.refund_fen)}已自动退还。"
        ),
        "cancellation.settled",
        at=now,
    )
    line_event(
        ctx,
        "cancellation.settled",
        c.msisdn,
        p,
        {
            "cancellation_id": c.id,
            "late_usage_fen": late,
            "trued_up_fen": t.refund_fen,
            "shortfall_fen": t.shortfall_fen,
        },
        at=now,
    )
    if t.refund_fen > 0 and target is None:  # paid back, not moved to another line
        invoices.on_refund(ctx, line, amount_fen=t.refund_fen, ref=ref)
    ctx.session.flush()
    report.settled += 1
    report.late_usage_fen += late
    report.late_usage_records += len(records)
    report.trued_up_fen += t.refund_fen
    report.shortfall_fen += t.shortfall_fen
    return True


def _late_bill(ctx: Context, c: Cancellation, line: Line, amount: int, paid: int) -> Bill:
    """Late usage of the closed account; unpaid where the reserve fell short (arrears)."""
    bill = ctx.session.scalars(
        select(Bill).where(
            Bill.line_id == line.id, Bill.period == c.period, Bill.kind == BillKind.LATE_USAGE
        )
    ).one_or_none()
    if bill is None:
        bill = Bill(
            line_id=line.id,
            province_code=line.province_code,
            period=c.period,
            kind=BillKind.LATE_USAGE,
            amount_fen=0,
            paid_fen=0,
            created_at=ctx.now(),
        )
        ctx.session.add(bill)
    bill.amount_fen += amount
    bill.paid_fen += paid
    bill.status = BillStatus.PAID if bill.paid_fen >= bill.amount_fen else BillStatus.UNPAID
    bill.due_on = local_date(ctx.now()) + dt.timedelta(days=15)
    ctx.session.flush()
    return bill


def _payout_route(ctx: Context, c: Cancellation) -> RefundRoute:
    """The route of the refund at cancellation; a transfer to a line that has since been
    cancelled falls back to the original payment route, and so does cash (nobody stands at
    the counter when the cycle closes: the reserve goes back through the gateway)."""
    route = RefundRoute.from_dict(c.route)
    if route.is_cash:
        return RefundRoute(RefundRouteKind.ORIGINAL, method="gateway", fallback_from="cash")
    if route.is_transfer and _transfer_target(ctx, route) is None:
        return RefundRoute(RefundRouteKind.ORIGINAL, method="gateway", fallback_from="transfer")
    return route


def _transfer_target(ctx: Context, route: RefundRoute) -> Line | None:
    if not route.is_transfer or not route.to_msisdn:
        return None
    target = lock_line(ctx.session, route.to_msisdn)
    return target if target.status != LineStatus.CANCELLED else None
