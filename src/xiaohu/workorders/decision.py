"""The home province's decision on a work order.

Approval completes the request by the same `execute` path as an immediate cancellation, on the
same row (its id and reference kept). The amounts: the quote is honoured while it is still
valid and the line unchanged; past that (the usual case, days later) the line is priced again
under the home province's rules as of the decision, because the quote's date has gone by and
the person is not there to accept a new one; the SMS and the receipt give the amounts charged.
Blockers that appeared meanwhile (a new bill, say) refuse the approval with 409
CANCELLATION_BLOCKED and leave the order open; the reviewed trigger itself (the fraud stop,
the lifetime term, the other province) is what the approval lifts.

Rejection leaves the line as it was: the request row becomes `rejected`, the refusal is logged
with the blocker REVIEW_REJECTED and the reason (the subscriber's evidence, as every refusal),
and the owner is told by SMS.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Table, delete

from xiaohu.audit.service import line_event
from xiaohu.billing.rules import RefundRoute, RefundRouteKind
from xiaohu.cancellation import quotes, snapshot
from xiaohu.cancellation import rules as cancellation_rules
from xiaohu.cancellation.acceptance import Accepted, lock_lines, quoted_bill, token_for
from xiaohu.cancellation.execute import execute
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import CancellationStatus, Notice
from xiaohu.cancellation.service import record_refusal, refund_status, to_out
from xiaohu.cancellation.terms import policy_fingerprint, policy_values
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.lines.addressing import sms_about
from xiaohu.lines.models import Line, LineStatus
from xiaohu.policy.schema import Values
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.models import Role
from xiaohu.stores.models import Store
from xiaohu.workorders.models import OrderStatus, WorkOrder
from xiaohu.workorders.rules import review
from xiaohu.workorders.service import CHANNEL, as_json, find

Decision = Literal["approve", "reject"]
_CANCELLATIONS: Table = Cancellation.__table__  # type: ignore[assignment]


def decide(
    ctx: Context, staff: StaffClaims, order_id: str, decision: Decision, reason: str
) -> dict[str, Any]:
    """Approve or reject, by a back office of the line's home province (another province's,
    or any other role: 403). A decided order is WORK_ORDER_DECIDED (409)."""
    order = find(ctx, staff, order_id, lock=True)
    if staff.role != Role.BACKOFFICE or staff.province_code != order.home_province:
        raise DomainError(
            "FORBIDDEN",
            f"work order {order_id} is decided by province {order.home_province}'s back office",
        )
    if order.status != OrderStatus.OPEN:
        raise DomainError(
            "WORK_ORDER_DECIDED",
            f"work order {order_id} was already {order.status}",
            decision=order.status,
            decided_at=order.decided_at.isoformat() if order.decided_at else None,
        )
    pending = ctx.session.get(Cancellation, order.cancellation_id)
    if pending is None or pending.status != CancellationStatus.PENDING_REVIEW:
        raise InvariantViolated(f"work order {order_id} has no pending request")
    if decision == "approve":
        c = _approve(ctx, order, pending)
    else:
        c = _reject(ctx, staff, order, pending, reason)
    now = ctx.now()
    order.status = OrderStatus.APPROVED if decision == "approve" else OrderStatus.REJECTED
    order.decided_at = now
    order.decided_by = staff.login
    order.decision_reason = reason
    ctx.session.flush()
    line_event(
        ctx,
        f"workorder.{order.status}",
        order.msisdn,
        order.home_province,
        {"work_order_id": order.id, "cancellation_id": c.id, "reason": reason},
        at=now,
    )
    return {
        "work_order": as_json(order, now),
        "cancellation": to_out(c, refund_status(ctx, c)).model_dump(mode="json"),
    }


def _route(ctx: Context, order: WorkOrder, pending: Cancellation) -> tuple[Line, Line | None]:
    route = RefundRoute.from_dict(pending.route)
    other = route.to_msisdn if route.kind is RefundRouteKind.TRANSFER else None
    line, target = lock_lines(ctx, order.msisdn, other)
    if line.status == LineStatus.CANCELLED:
        raise DomainError(
            "ALREADY_CANCELLED", f"line {mask_msisdn(line.msisdn)} is already cancelled"
        )
    if other is not None and (
        target is None or target.owner_id != line.owner_id or target.status != LineStatus.ACTIVE
    ):
        raise DomainError(
            "REFUND_ROUTE_INVALID",
            "the transfer's line is no longer an active line of the owner: reject the order "
            "and let the person choose another route",
        )
    return line, target


def _priced(
    ctx: Context, line: Line, pending: Cancellation, values: Values
) -> tuple[Any, quotes.QuoteToken, snapshot.Loaded]:
    """The quote's bill while it still holds; else the line priced again now."""
    token = token_for(ctx, line, pending.quote_id or "")
    quoted, current = snapshot.load_for_cancel(
        ctx.session, line.id, token.usage_upto if token else 0
    )
    try:
        bill, _ = quoted_bill(ctx, line, token, quoted)
        if token is not None:
            return bill, token, current
    except DomainError as err:
        if err.code not in ("QUOTE_EXPIRED", "QUOTE_NOT_FOUND"):
            raise
    now = ctx.now()
    fresh = quotes.issue(
        ctx.settings.key,
        line_id=line.id,
        version=line.version,
        usage_upto=current.usage_max_id,
        now=now,
        valid_minutes=values.quote_valid_minutes,
        policy=policy_fingerprint(ctx),
    )
    return cancellation_rules.price(current.snapshot, values, local_date(now)), fresh, current


def _approve(ctx: Context, order: WorkOrder, pending: Cancellation) -> Cancellation:
    line, target = _route(ctx, order, pending)
    today = local_date(ctx.now())
    values = policy_values(ctx, line.province_code, today)
    bill, token, current = _priced(ctx, line, pending, values)
    store = ctx.session.get(Store, order.store_code)
    counter = cancellation_rules.AtCounter(
        store_code=order.store_code,
        store_kind=store.kind if store else "own_standard",
        kinds_allowed=tuple(values.store_kinds_allowed),
        in_person=bool(order.request.get("in_person")),
    )
    blockers = cancellation_rules.check_cancellation(
        current.snapshot, values, today, CHANNEL, bill, counter
    )
    rest = review(blockers, values, line.province_code, order.handling_province).blockers
    if rest:
        raise DomainError(
            "CANCELLATION_BLOCKED",
            "the line cannot be cancelled now: " + ", ".join(b.code for b in rest),
            blockers=[b.as_dict() for b in rest],
        )
    accepted = Accepted(
        line,
        target,
        bill,
        RefundRoute.from_dict(pending.route),
        values,
        CHANNEL,
        quotes.sign(ctx.settings.key, token),
        token,
        store_code=order.store_code,
        staff_login=order.staff_login,
        evidence={"work_order_id": order.id, "documents": order.request.get("documents")},
        cancellation_id=pending.id,
        reference=pending.reference,
    )
    # The request row gives way to the cancellation `execute` writes under the same id.
    ctx.session.expunge(pending)
    gone = delete(_CANCELLATIONS).where(_CANCELLATIONS.c.id == pending.id)
    ctx.session.connection().execute(gone)
    with ctx.session.no_autoflush:
        return execute(ctx, accepted)


def _reject(
    ctx: Context, staff: StaffClaims, order: WorkOrder, pending: Cancellation, reason: str
) -> Cancellation:
    now = ctx.now()
    line = ctx.session.get(Line, order.line_id)
    if line is None:  # pragma: no cover - the order's foreign key
        raise InvariantViolated(f"work order {order.id} names no line")
    pending.status = CancellationStatus.REJECTED
    pending.account_status = CancellationStatus.REJECTED
    blocker = Notice(
        "REVIEW_REJECTED",
        f"销户申请经归属省审核未通过：{reason}",
        f"The home province's review rejected the cancellation: {reason}",
        details={"reason": reason, "work_order_id": order.id, "cancellation_id": pending.id},
    )
    refusal = record_refusal(
        ctx, line, CHANNEL, [blocker], now, store_code=order.store_code, staff_login=staff.login
    )
    sms_about(
        ctx,
        line,
        f"【销户服务】您的销户申请（受理编号{pending.reference}）经审核未通过，原因：{reason}。"
        f"号码保持原状态，拒绝告知书编号{refusal.reference}。",
        "workorder.rejected",
        at=now,
    )
    return pending
