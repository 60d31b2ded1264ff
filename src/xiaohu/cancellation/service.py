"""Use cases: the check (with a stored quote), the cancellation, reading it, the reversal.

The check is the hot path (≥1,000/s): the line's snapshot is read in a handful of queries and
the quote is one insert. The cancellation honours the quoted amounts (a quote is stale as soon
as the line's `version` moved) and does everything in the caller's one transaction: final bill,
gift applied and forfeited, refund now, reserve kept, line cancelled, number in quarantine,
provisioning and SMS through the outbox, audit. A refusal is logged with its blocker codes and
raised with `keep_writes=True`: the unit of work commits the log with the 409 answer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, exists, func, select, text, update
from sqlalchemy.orm import Session, aliased

from xiaohu.audit.service import append as audit
from xiaohu.billing.models import Bill, Refund, UsageHistory, UsageRecord
from xiaohu.billing.rules import Charge, FinalBill
from xiaohu.billing.service import post_charge
from xiaohu.cancellation import rules
from xiaohu.cancellation.models import Cancellation, Quote, Refusal
from xiaohu.cancellation.schemas import (
    CancellationOut,
    CancellationRequest,
    CheckOut,
    NoticeOut,
    QuoteOut,
    RefundOut,
    SettlementOut,
)
from xiaohu.contracts.models import Contract
from xiaohu.contracts.rules import terms_of
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import confirm_real_name
from xiaohu.kit.clock import local_date, period_bounds, period_of
from xiaohu.kit.db import is_sqlite
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id, reference
from xiaohu.kit.money import yuan
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import Posting, credit, debit
from xiaohu.ledger.service import post
from xiaohu.lines.models import (
    Bundle,
    FamilyGroup,
    FamilyMember,
    Line,
    Owner,
    PaymentRoute,
    PendingOrder,
)
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import enqueue, order_provisioning, send_sms
from xiaohu.numbers import service as numbers
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context

GATEWAY_CLEARING = "gateway_clearing"
REVERSAL_KIND = "cancellation.reversed"


def receipt_url(cancellation_id: str) -> str:
    return f"/api/v1/cancellations/{cancellation_id}/receipt.pdf"


# --- the snapshot ----------------------------------------------------------------------


@cache
def _snapshot_stmt(by: str) -> Select[Any]:
    """The line, its owner's document type and every scalar the check needs, in one query.
    Built once per key column (`msisdn` or `id`) with a bound parameter, so the hot path
    neither rebuilds nor recompiles it."""
    fm_self = aliased(FamilyMember)
    fm_other = aliased(FamilyMember)
    other_line = aliased(Line)

    def line_scalar(stmt: Select[Any]) -> Any:
        return stmt.scalar_subquery()

    arrears = line_scalar(
        select(func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0)).where(
            Bill.line_id == Line.id, Bill.status == "unpaid"
        )
    )
    usage = line_scalar(
        select(func.coalesce(func.sum(UsageRecord.amount_fen), 0)).where(
            UsageRecord.line_id == Line.id, UsageRecord.billed.is_(False)
        )
    )
    usage_max = line_scalar(
        select(func.max(UsageRecord.id)).where(
            UsageRecord.line_id == Line.id, UsageRecord.billed.is_(False)
        )
    )
    anchored = line_scalar(
        select(Bundle.id)
        .where(Bundle.anchor_line_id == Line.id, Bundle.status == "active")
        .order_by(Bundle.id)
        .limit(1)
    )
    family_others = line_scalar(
        select(func.count())
        .select_from(fm_other)
        .join(other_line, other_line.id == fm_other.line_id)
        .where(
            fm_other.group_id == fm_self.group_id,
            fm_other.line_id != Line.id,
            other_line.status != "cancelled",
        )
    )
    group_active = exists().where(
        FamilyGroup.id == fm_self.group_id, FamilyGroup.status == "active"
    )
    has_contracts = exists().where(Contract.line_id == Line.id, Contract.status == "active")
    has_orders = exists().where(PendingOrder.line_id == Line.id, PendingOrder.status == "open")
    key = Line.msisdn if by == "msisdn" else Line.id
    return (
        select(
            Line,
            Owner.id_type,
            arrears.label("arrears"),
            usage.label("usage"),
            usage_max.label("usage_max"),
            anchored.label("bundle_id"),
            fm_self.group_id,
            fm_self.role,
            family_others.label("family_others"),
            group_active.label("group_active"),
            has_contracts.label("has_contracts"),
            has_orders.label("has_orders"),
        )
        .join(Owner, Owner.id == Line.owner_id)
        .outerjoin(fm_self, fm_self.line_id == Line.id)
        .where(key == bindparam("key"))
    )


_CONTRACTS = select(Contract).where(
    Contract.line_id == bindparam("line_id"), Contract.status == "active"
)
_ORDERS = (
    select(PendingOrder.order_ref, PendingOrder.kind)
    .where(PendingOrder.line_id == bindparam("line_id"), PendingOrder.status == "open")
    .order_by(PendingOrder.id)
)
_HISTORY = (
    select(UsageHistory.amount_fen)
    .where(UsageHistory.line_id == bindparam("line_id"))
    .order_by(UsageHistory.seq)
    .limit(bindparam("cycles", type_=Integer))
)


def _other_lines_arrears(session: Session, line: Line) -> int:
    """Billed and unpaid on the owner's other lines (closed accounts included: a late-usage
    shortfall is the owner's debt too)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0))
        .join(Line, Line.id == Bill.line_id)
        .where(Line.owner_id == line.owner_id, Line.id != line.id, Bill.status == "unpaid")
    )
    return int(total or 0)


@dataclass(frozen=True)
class Loaded:
    line: Line
    snapshot: rules.LineSnapshot
    usage_max_id: int | None
    values: Values


def load_snapshot(ctx: Context, *, msisdn: str | None = None, line_id: int | None = None) -> Loaded:
    """Read the line's snapshot: one query for the line and its scalars, one for the usage
    history, and the contracts and orders only when the line has any."""
    session = ctx.session
    by, key = ("msisdn", msisdn) if msisdn is not None else ("id", line_id)
    row = session.execute(_snapshot_stmt(by), {"key": key}).one_or_none()
    if row is None:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn or line_id}")
    line: Line = row[0]
    values = ctx.policy_for(line.province_code)
    ids = {"line_id": line.id}
    contracts = session.scalars(_CONTRACTS, ids).all() if row.has_contracts else []
    orders = session.execute(_ORDERS, ids).all() if row.has_orders else []
    history = session.scalars(_HISTORY, {**ids, "cycles": values.reserve_history_cycles}).all()
    other_arrears = _other_lines_arrears(session, line) if values.arrears_scope == "owner" else 0
    in_group = row.group_id is not None and bool(row.group_active)
    snap = rules.LineSnapshot(
        line_id=line.id,
        msisdn=line.msisdn,
        province_code=line.province_code,
        status=line.status,
        real_name_verified=bool(line.real_name_verified),
        id_type=row.id_type,
        arrears_fen=int(row.arrears),
        other_lines_arrears_fen=other_arrears,
        cash_fen=line.cash_fen,
        gift_fen=line.gift_fen,
        plan_fee_fen=line.plan_monthly_fee_fen,
        unbilled_usage_fen=int(row.usage),
        usage_history_fen=tuple(int(h) for h in history),
        opened_on=line.opened_on,
        contracts=tuple(
            rules.SnapshotContract(c.contract_ref, c.status, terms_of(c)) for c in contracts
        ),
        bundle_id=row.bundle_id,
        bundle_role="anchor" if row.bundle_id is not None else None,
        family_group_id=row.group_id if in_group else None,
        family_role=row.role if in_group else None,
        family_other_members=int(row.family_others or 0) if in_group else 0,
        pending_orders=tuple(rules.SnapshotOrder(ref, kind) for ref, kind in orders),
        bank_collection_pending=bool(line.bank_collection_pending),
        version=line.version,
    )
    return Loaded(line, snap, row.usage_max, values)


def cycle_closes_on(today: dt.date) -> dt.date:
    return period_bounds(period_of(today))[1]


# --- the check -------------------------------------------------------------------------


def _quote_out(quote_id: str, valid_until: dt.datetime, bill: FinalBill) -> QuoteOut:
    return QuoteOut.model_validate(
        {
            "quote_id": quote_id,
            "valid_until": valid_until,
            "final_charges": [c.as_dict() for c in bill.charges],
            "cash_balance_fen": bill.cash_balance_fen,
            "gift_balance_fen": bill.gift_balance_fen,
            "charges_fen": bill.charges_fen,
            "penalties_fen": bill.penalties_fen,
            "gift_applied_fen": bill.gift_applied_fen,
            "refund_fen": bill.refund_fen,
            "refund_now_fen": bill.refund_now_fen,
            "reserve_fen": bill.reserve_fen,
            "forfeited_fen": bill.forfeited_fen,
        }
    )


def _latest_cancellation(session: Session, line_id: int) -> Cancellation | None:
    return session.scalars(
        select(Cancellation)
        .where(Cancellation.line_id == line_id)
        .order_by(Cancellation.cancelled_at.desc())
        .limit(1)
    ).one_or_none()


def _already_cancelled(ctx: Context, line: Line) -> NoticeOut:
    latest = _latest_cancellation(ctx.session, line.id)
    notice = rules.Notice(
        "ALREADY_CANCELLED", "该号码已销户。", "This number is already cancelled."
    )
    out = notice.as_dict()
    if latest is not None:
        out["cancellation_id"] = latest.id
        out["reference"] = latest.reference
        if latest.status == "cancelled" and ctx.now() < latest.undo_until:
            out["remedy"] = {
                "action": "reverse",
                "method": "POST",
                "href": f"/api/v1/cancellations/{latest.id}/reversal",
                "until": latest.undo_until.isoformat(),
            }
    return NoticeOut.model_validate(out)


def check(ctx: Context, msisdn: str, *, channel: str = "online") -> CheckOut:
    """Every blocker, the warnings and a priced quote (stored, valid `quote_valid_minutes`)."""
    loaded = load_snapshot(ctx, msisdn=msisdn)
    line, snap, values = loaded.line, loaded.snapshot, loaded.values
    if line.status == "cancelled":
        return CheckOut(
            eligible=False, blockers=[_already_cancelled(ctx, line)], warnings=[], quote=None
        )
    now = ctx.now()
    today = local_date(now)
    bill = rules.price(snap, values, today)
    blockers = rules.check_cancellation(snap, values, today, channel, bill)
    warnings = rules.warnings(snap, values, bill, cycle_closes_on(today))
    quote_id = new_id()
    valid_until = now + dt.timedelta(minutes=values.quote_valid_minutes)
    if not is_sqlite(ctx.session) and not ctx.session.new and not ctx.session.dirty:
        # A quote is disposable (lost in a crash, the subscriber simply checks again), so the
        # check's commit need not wait for the WAL flush: the hot path stays fast.
        ctx.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    quote = _quote_out(quote_id, valid_until, bill)
    ctx.session.add(
        Quote(
            id=quote_id,
            line_id=line.id,
            province_code=line.province_code,
            created_at=now,
            valid_until=valid_until,
            body={
                "msisdn": line.msisdn,
                "version": line.version,
                "channel": channel,
                "usage_max_id": loaded.usage_max_id,
                "period": period_of(today),
                "charges": [
                    {"item": c.item, "amount_fen": c.amount_fen, "category": c.category}
                    for c in bill.charges
                ],
                "charges_from_cash_fen": bill.charges_from_cash_fen,
                "shortfall_fen": bill.shortfall_fen,
                "quote": quote.model_dump(mode="json"),
                "blockers": [b.code for b in blockers],
                "warnings": [w.code for w in warnings],
            },
        )
    )
    return CheckOut(
        eligible=not blockers,
        blockers=[NoticeOut.model_validate(b.as_dict()) for b in blockers],
        warnings=[NoticeOut.model_validate(w.as_dict()) for w in warnings],
        quote=quote,
    )


# --- refusals --------------------------------------------------------------------------


@dataclass(frozen=True)
class RefusalNote:
    line_id: int
    msisdn: str
    province_code: str
    channel: str
    codes: tuple[str, ...]
    at: dt.datetime


def record_refusal(ctx: Context, note: RefusalNote) -> None:
    """The subscriber's evidence: the refusal and its codes, in the log and the audit chain."""
    ctx.session.add(
        Refusal(
            line_id=note.line_id,
            province_code=note.province_code,
            channel=note.channel,
            codes=list(note.codes),
            at=note.at,
        )
    )
    audit(
        ctx.session,
        at=note.at,
        actor=ctx.actor,
        action="cancellation.refused",
        subject=f"line:{note.msisdn}",
        province_code=note.province_code,
        data={"channel": note.channel, "codes": list(note.codes)},
    )
    ctx.session.flush()


# --- the cancellation ------------------------------------------------------------------


def _lock_lines(ctx: Context, msisdn: str, other: str | None) -> tuple[Line, Line | None]:
    """Lock the line and the transfer target in msisdn order (no deadlock between two)."""
    if other is None or other == msisdn:
        return lock_line(ctx.session, msisdn), None
    locked: dict[str, Line | None] = {}
    for m in sorted((msisdn, other)):
        try:
            locked[m] = lock_line(ctx.session, m)
        except DomainError:
            if m == msisdn:
                raise
            locked[m] = None
    line = locked[msisdn]
    assert line is not None
    return line, locked[other]


def _route(
    ctx: Context, line: Line, target: Line | None, request: CancellationRequest, values: Values
) -> dict[str, Any]:
    r = request.refund_route
    if r.kind not in values.refund_routes:
        raise DomainError(
            "REFUND_ROUTE_INVALID",
            f"refund route {r.kind!r} is not offered in province {line.province_code}; "
            f"choose one of {', '.join(values.refund_routes)}",
        )
    if r.kind == "transfer":
        if (
            target is None
            or target.id == line.id
            or target.owner_id != line.owner_id
            or target.status != "active"
        ):
            raise DomainError(
                "REFUND_ROUTE_INVALID",
                "a transfer needs another active line of the same owner",
                to_msisdn=r.to_msisdn,
            )
        return {"kind": "transfer", "to_msisdn": target.msisdn, "to_line_id": target.id}
    if r.kind == "bank_card":
        account = (r.account or "").replace(" ", "")
        return {"kind": "bank_card", "account": "****" + account[-4:]}
    original = ctx.session.get(PaymentRoute, line.id)
    return {
        "kind": "original",
        "method": original.kind if original else "gateway",
        "account": original.account if original else None,
    }


def _require_quote(ctx: Context, line: Line, quote_id: str) -> dict[str, Any]:
    quote = ctx.session.get(Quote, quote_id)
    if quote is None or quote.line_id != line.id:
        raise DomainError("QUOTE_NOT_FOUND", f"no quote {quote_id} for {mask_msisdn(line.msisdn)}")
    if ctx.now() >= quote.valid_until:
        raise DomainError(
            "QUOTE_EXPIRED",
            f"the quote expired at {quote.valid_until.isoformat()}; run the check again",
        )
    body: dict[str, Any] = dict(quote.body)
    q: dict[str, Any] = body["quote"]
    if (
        body.get("version") != line.version
        or q["cash_balance_fen"] != line.cash_fen
        or q["gift_balance_fen"] != line.gift_fen
        or body.get("shortfall_fen", 0) != 0
    ):
        raise DomainError(
            "QUOTE_EXPIRED", "the line changed since the quote was made; run the check again"
        )
    return body


def _require_acknowledged(body: dict[str, Any], acknowledged: list[str]) -> None:
    required = list(body.get("warnings", []))
    if "UNBIND_INTERNET_ACCOUNTS" not in required:
        required.insert(0, "UNBIND_INTERNET_ACCOUNTS")
    missing = [c for c in required if c not in set(acknowledged)]
    if missing:
        raise DomainError(
            "WARNINGS_NOT_ACKNOWLEDGED",
            "acknowledge every warning of the quote: missing " + ", ".join(missing),
            missing=missing,
            errors=[{"field": "acknowledged_warnings", "reason": f"missing {c}"} for c in missing],
        )


def cancel(
    ctx: Context, msisdn: str, request: CancellationRequest, *, channel: str = "online"
) -> CancellationOut:
    """Cancel the line at the quoted amounts, in the caller's transaction.

    Blocked: the refusal is logged (the subscriber's evidence) and CANCELLATION_BLOCKED raised
    with `keep_writes=True`. Nothing before the block check writes (locks and reads only), so
    what the caller commits with the 409 is exactly the refusal."""
    route_in = request.refund_route
    other = route_in.to_msisdn if route_in.kind == "transfer" else None
    line, target = _lock_lines(ctx, msisdn, other)
    now = ctx.now()
    if line.status == "cancelled":
        latest = _latest_cancellation(ctx.session, line.id)
        raise DomainError(
            "ALREADY_CANCELLED",
            f"line {mask_msisdn(msisdn)} is already cancelled",
            cancellation_id=latest.id if latest else None,
        )
    confirm_real_name(ctx, line, request.real_name.name, request.real_name.id_number)
    loaded = load_snapshot(ctx, line_id=line.id)
    values = loaded.values
    today = local_date(now)
    blockers = rules.check_cancellation(loaded.snapshot, values, today, channel)
    if blockers:
        codes = tuple(b.code for b in blockers)
        record_refusal(
            ctx, RefusalNote(line.id, line.msisdn, line.province_code, channel, codes, now)
        )
        raise DomainError(
            "CANCELLATION_BLOCKED",
            "the line cannot be cancelled now: " + ", ".join(codes),
            blockers=[b.as_dict() for b in blockers],
            keep_writes=True,
        )
    body = _require_quote(ctx, line, request.quote_id)
    _require_acknowledged(body, request.acknowledged_warnings)
    route = _route(ctx, line, target, request, values)
    return _execute(ctx, line, target, body, route, values, channel)


def _execute(
    ctx: Context,
    line: Line,
    target: Line | None,
    body: dict[str, Any],
    route: dict[str, Any],
    values: Values,
    channel: str,
) -> CancellationOut:
    now = ctx.now()
    today = local_date(now)
    period = period_of(today)
    p = line.province_code
    q = body["quote"]
    charges = [Charge(c["item"], int(c["amount_fen"]), c["category"]) for c in body["charges"]]
    charges_fen = int(q["charges_fen"])
    gift_applied, forfeited = int(q["gift_applied_fen"]), int(q["forfeited_fen"])
    from_cash = int(body["charges_from_cash_fen"])
    refund_now, reserve = int(q["refund_now_fen"]), int(q["reserve_fen"])
    assert line.cash_fen == from_cash + refund_now + reserve, "quote does not add up"
    assert line.gift_fen == gift_applied + forfeited, "quote does not add up"

    c = Cancellation(
        id=new_id(),
        reference=reference("XH", p, today.isoformat()),
        line_id=line.id,
        msisdn=line.msisdn,
        province_code=p,
        handling_province_code=p,
        channel=channel,
        status="cancelled",
        account_status="settling",
        quote_id=q["quote_id"],
        cancelled_at=now,
        undo_until=now + dt.timedelta(hours=values.undo_window_hours),
        period=period,
        final_charges=[ch.as_dict() for ch in charges],
        charges_fen=charges_fen,
        refund_now_fen=refund_now,
        reserve_fen=reserve,
        forfeited_fen=forfeited,
        route=route,
        previous_status=line.status,
        gift_applied_fen=gift_applied,
    )
    ctx.session.add(c)
    ctx.session.flush()

    # The final bill: charged, then paid from gift (where allowed) and cash.
    for ch in charges:
        post_charge(ctx, line, ch.item, ch.amount_fen, ref=c.id)
    post(
        ctx.session,
        "cancellation.final_bill_settled",
        [
            debit(f"subscriber_gift:{p}", gift_applied, line.id),
            debit(f"subscriber_cash:{p}", from_cash, line.id),
            credit(f"receivables:{p}", charges_fen, line.id),
        ],
        at=now,
        ref=c.id,
        province_code=p,
    )
    post(
        ctx.session,
        "cancellation.gift_forfeited",
        [
            debit(f"subscriber_gift:{p}", forfeited, line.id),
            credit(f"gift_forfeited:{p}", forfeited),
        ],
        at=now,
        ref=c.id,
        province_code=p,
    )
    if target is not None:
        to_leg = credit(f"subscriber_cash:{target.province_code}", refund_now, target.id)
        target.cash_fen += refund_now
        target.updated_at = now
    else:
        to_leg = credit(GATEWAY_CLEARING, refund_now)
    post(
        ctx.session,
        "cancellation.refund",
        [debit(f"subscriber_cash:{p}", refund_now, line.id), to_leg],
        at=now,
        ref=c.id,
        province_code=p,
    )
    line.cash_fen = reserve
    line.gift_fen = 0
    _bill_final(ctx, line, c, body.get("usage_max_id"))
    if refund_now > 0:
        _refund_row(ctx, c, "now", refund_now, route)

    line.status = "cancelled"
    line.status_reason = "subscriber_request"
    line.status_changed_at = now
    line.updated_at = now
    numbers.quarantine(ctx, line)
    order_provisioning(ctx.session, line.msisdn, "deprovision", at=now, province_code=p)
    send_sms(
        ctx.session,
        line.msisdn,
        f"【销户服务】号码{mask_msisdn(line.msisdn)}已销户，受理编号{c.reference}。"
        f"立即退款{yuan(refund_now)}，预留{yuan(reserve)}将于账期结算后自动退还。"
        "请尽快解除该号码与银行、微信、支付宝等互联网账号的绑定。"
        f"如需恢复，请于{values.undo_window_hours}小时内申请返销。",
        "cancellation.completed",
        at=now,
        province_code=p,
    )
    audit(
        ctx.session,
        at=now,
        actor=ctx.actor,
        action="cancellation.completed",
        subject=f"line:{line.msisdn}",
        province_code=p,
        data={
            "cancellation_id": c.id,
            "reference": c.reference,
            "channel": channel,
            "quote_id": c.quote_id,
            "charges_fen": charges_fen,
            "gift_applied_fen": gift_applied,
            "forfeited_fen": forfeited,
            "refund_now_fen": refund_now,
            "reserve_fen": reserve,
            "route": route["kind"],
            "undo_until": c.undo_until.isoformat(),
        },
    )
    ctx.session.flush()
    return to_out(c)


def _bill_final(ctx: Context, line: Line, c: Cancellation, usage_max_id: int | None) -> None:
    """The final bill row (paid in full), and the usage it took marked billed. A bill voided
    by a reversal is reused: one final bill per line and period."""
    if c.charges_fen <= 0 and usage_max_id is None:
        return
    bill = ctx.session.scalars(
        select(Bill).where(Bill.line_id == line.id, Bill.period == c.period, Bill.kind == "final")
    ).one_or_none()
    if bill is None:
        bill = Bill(
            line_id=line.id, province_code=line.province_code, period=c.period, kind="final"
        )
        ctx.session.add(bill)
    bill.amount_fen = c.charges_fen
    bill.paid_fen = c.charges_fen
    bill.status = "paid"
    bill.due_on = local_date(c.cancelled_at)
    bill.created_at = c.cancelled_at
    ctx.session.flush()
    if usage_max_id is not None:
        ctx.session.execute(
            update(UsageRecord)
            .where(
                UsageRecord.line_id == line.id,
                UsageRecord.billed.is_(False),
                UsageRecord.id <= usage_max_id,
            )
            .values(billed=True, bill_id=bill.id)
            .execution_options(synchronize_session=False)
        )


def _refund_row(
    ctx: Context, c: Cancellation, kind: str, amount: int, route: dict[str, Any]
) -> Refund:
    """The refund record, and the payout order to the gateway (delivered after commit)."""
    refund = Refund(
        id=new_id(),
        cancellation_id=c.id,
        line_id=c.line_id,
        province_code=c.province_code,
        kind=kind,
        amount_fen=amount,
        route=route,
        status="paid",
        created_at=ctx.now(),
    )
    ctx.session.add(refund)
    if route["kind"] != "transfer":
        enqueue(
            ctx.session,
            "payment.refund",
            {"refund_id": refund.id, "msisdn": c.msisdn, "amount_fen": amount, "route": route},
            at=ctx.now(),
            province_code=c.province_code,
        )
    return refund


# --- reading ---------------------------------------------------------------------------


def to_out(c: Cancellation) -> CancellationOut:
    settlement = None
    if c.account_status == "closed" and c.closed_at is not None:
        settlement = SettlementOut(
            trued_up_fen=c.trued_up_fen or 0,
            late_usage_fen=c.late_usage_fen or 0,
            shortfall_fen=c.shortfall_fen or 0,
            closed_at=c.closed_at,
        )
    route = {k: v for k, v in c.route.items() if k != "to_line_id"}
    return CancellationOut.model_validate(
        {
            "id": c.id,
            "reference": c.reference,
            "msisdn": c.msisdn,
            "status": c.status,
            "account_status": c.account_status,
            "cancelled_at": c.cancelled_at,
            "undo_until": c.undo_until,
            "reversed_at": c.reversed_at,
            "final_charges": c.final_charges,
            "charges_fen": c.charges_fen,
            "forfeited_fen": c.forfeited_fen,
            "refund": RefundOut(
                refund_now_fen=c.refund_now_fen, reserve_fen=c.reserve_fen, route=route
            ),
            "settlement": settlement,
            "receipt_url": receipt_url(c.id),
        }
    )


def find(ctx: Context, cancellation_id: str) -> Cancellation:
    c = ctx.session.get(Cancellation, cancellation_id)
    if c is None:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
    return c


def get_cancellation(ctx: Context, cancellation_id: str) -> CancellationOut:
    return to_out(find(ctx, cancellation_id))


# --- the reversal ----------------------------------------------------------------------


def reverse(ctx: Context, cancellation_id: str) -> CancellationOut:
    """Undo a cancellation inside the window: the exact reverse of its journal entries, the
    line back in its previous state, the number out of quarantine. Repeating it is harmless."""
    c = find(ctx, cancellation_id)
    line = lock_line(ctx.session, c.msisdn)
    ctx.session.refresh(c)
    if c.status == "reversed":
        return to_out(c)
    now = ctx.now()
    if c.account_status != "settling" or now >= c.undo_until:
        raise DomainError(
            "UNDO_WINDOW_CLOSED",
            f"the undo window closed at {c.undo_until.isoformat()}",
            undo_until=c.undo_until,
        )
    if line.id != c.line_id or line.status != "cancelled":
        raise DomainError("CONFLICT", "the line is no longer in the state this cancellation left")
    numbers.restore(ctx, line)
    to_line_id = c.route.get("to_line_id")
    target = None
    if isinstance(to_line_id, int):
        other = ctx.session.get(Line, to_line_id)
        target = lock_line(ctx.session, other.msisdn) if other is not None else None
        if target is not None and target.cash_fen < c.refund_now_fen:
            raise DomainError(
                "INSUFFICIENT_FUNDS",
                f"line {mask_msisdn(target.msisdn)} no longer holds the {yuan(c.refund_now_fen)} "
                "transferred to it; top it up first",
            )
    deltas = _post_reverse_entries(ctx, c)
    for lid, (cash, gift) in deltas.items():
        row = line if lid == line.id else target
        if row is None or row.id != lid:  # pragma: no cover - entries only touch these lines
            raise DomainError("CONFLICT", f"unexpected line {lid} in the cancellation's entries")
        row.cash_fen += cash
        row.gift_fen += gift
        row.updated_at = now
    _unbill_final(ctx, c)
    for refund in ctx.session.scalars(select(Refund).where(Refund.cancellation_id == c.id)):
        refund.status = "reversed"
    line.status = c.previous_status or "active"
    line.status_reason = "cancellation_reversed"
    line.status_changed_at = now
    line.updated_at = now
    c.status = "reversed"
    c.account_status = "reversed"
    c.reversed_at = now
    p = line.province_code
    order_provisioning(ctx.session, line.msisdn, "restore", at=now, province_code=p)
    send_sms(
        ctx.session,
        line.msisdn,
        f"【销户服务】受理编号{c.reference}的销户已撤销（返销），号码{mask_msisdn(line.msisdn)}"
        "已恢复使用，余额已退回账户。",
        "cancellation.reversed",
        at=now,
        province_code=p,
    )
    audit(
        ctx.session,
        at=now,
        actor=ctx.actor,
        action="cancellation.reversed",
        subject=f"line:{line.msisdn}",
        province_code=p,
        data={"cancellation_id": c.id, "reference": c.reference, "status": line.status},
    )
    ctx.session.flush()
    return to_out(c)


def _post_reverse_entries(ctx: Context, c: Cancellation) -> dict[int, tuple[int, int]]:
    """Post the mirror image of every journal entry the cancellation made; return, per line,
    the change to its cash and gift balances."""
    rows = ctx.session.execute(
        select(
            JournalEntry.account_code,
            JournalEntry.line_id,
            JournalEntry.debit_fen,
            JournalEntry.credit_fen,
        )
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(JournalTransaction.ref == c.id, JournalTransaction.kind != REVERSAL_KIND)
        .order_by(JournalEntry.id)
    ).all()
    legs: list[Posting] = []
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for account, line_id, dr, cr in rows:
        legs.append(Posting(account, debit_fen=cr, credit_fen=dr, line_id=line_id))
        if line_id is not None and account.startswith("subscriber_cash:"):
            deltas[line_id][0] += dr - cr
        elif line_id is not None and account.startswith("subscriber_gift:"):
            deltas[line_id][1] += dr - cr
    post(ctx.session, REVERSAL_KIND, legs, at=ctx.now(), ref=c.id, province_code=c.province_code)
    return {lid: (cash, gift) for lid, (cash, gift) in deltas.items()}


def _unbill_final(ctx: Context, c: Cancellation) -> None:
    bill = ctx.session.scalars(
        select(Bill).where(Bill.line_id == c.line_id, Bill.period == c.period, Bill.kind == "final")
    ).one_or_none()
    if bill is None:
        return
    ctx.session.execute(
        update(UsageRecord)
        .where(UsageRecord.bill_id == bill.id)
        .values(billed=False, bill_id=None)
        .execution_options(synchronize_session=False)
    )
    bill.status = "void"
