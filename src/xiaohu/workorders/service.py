"""Opening a work order at a store, the queue, and the overdue run.

Why a store request waits as a `cancellations` row (status `pending_review`) rather than a
row of its own: the request has an id the person keeps (the 202 answer, the receipt
reference), and `GET /api/v1/cancellations/{id}` follows it through the decision:
`pending_review`, then `cancelled` (approval completes that very row, `decision.py`) or
`rejected`. Nothing about the line or its money changes while it waits.

The order goes to the line's home province: `route_to_home` writes it through `receive`, the
function the inter-province message applier calls when provinces exchange messages; in one
database it is called in the request's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.audit.service import line_event
from xiaohu.cancellation import rules as cancellation_rules
from xiaohu.cancellation import snapshot, where
from xiaohu.cancellation.acceptance import (
    quoted_bill,
    refund_route,
    require_acknowledged,
    token_for,
)
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import CancellationStatus
from xiaohu.cancellation.schemas import CancellationRequest
from xiaohu.cancellation.service import record_refusal
from xiaohu.cancellation.terms import policy_values
from xiaohu.kit.clock import local_date, period_of
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.kit.ids import new_id, reference
from xiaohu.kit.scatter import every_node, gather_reads, unavailable
from xiaohu.lines.addressing import sms_about
from xiaohu.lines.models import Line
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.models import Role
from xiaohu.workorders import calendar
from xiaohu.workorders.models import OrderStatus, WorkOrder
from xiaohu.workorders.rules import Review, review

CHANNEL = "store"
MESSAGE_KIND = "workorder.opened"


def needs_review(
    ctx: Context, line: Line, handling_province: str, counter: cancellation_rules.AtCounter
) -> Review:
    """The store's blockers for the (locked) line under its home province's rules, split into
    review triggers and the rest."""
    loaded = snapshot.load_by_msisdn(ctx.session, line.msisdn)
    today = local_date(ctx.now())
    values = policy_values(ctx, line.province_code, today)
    blockers = cancellation_rules.check_cancellation(
        loaded.snapshot, values, today, CHANNEL, None, counter
    )
    return review(blockers, values, line.province_code, handling_province)


def open_review(
    ctx: Context,
    staff: StaffClaims,
    line: Line,
    target: Line | None,
    request: CancellationRequest,
    *,
    counter: cancellation_rules.AtCounter,
    handling_province: str,
    found: Review,
    evidence: dict[str, Any],
) -> tuple[Cancellation, WorkOrder]:
    """The clerk's request, kept for the home province's decision: validated as a
    cancellation would be (quote, warnings, route), written as a `pending_review` row, and
    the order routed to the home province. A cash refund is refused first (REFUND_ROUTE_INVALID):
    the decision comes days later, when the person has left the counter, and a drawer cannot
    pay someone who is not there. Blockers a decision cannot lift refuse it as a cancellation
    would (the refusal logged)."""
    if request.refund_route.kind == "cash":
        raise DomainError(
            "REFUND_ROUTE_INVALID",
            "this cancellation needs the home province's review and is completed after the "
            "person has left the counter: choose original, bank_card or transfer, not cash",
            errors=[{"field": "refund_route.kind", "reason": "no cash when a review is needed"}],
        )
    now = ctx.now()
    values = policy_values(ctx, line.province_code, local_date(now))
    if found.blockers:
        blockers = where.with_stores(
            ctx.session, values, found.blockers, line.province_code, line.city
        )
        record_refusal(
            ctx, line, CHANNEL, blockers, now, store_code=counter.store_code,
            staff_login=staff.login,
        )  # fmt: skip
        raise DomainError(
            "CANCELLATION_BLOCKED",
            "the line cannot be cancelled now: " + ", ".join(b.code for b in blockers),
            blockers=[b.as_dict() for b in blockers],
            keep_writes=True,
        )
    waiting = open_order_of(ctx, line.id)
    if waiting is not None:
        raise DomainError(
            "REVIEW_PENDING",
            f"work order {waiting.id} for this line is waiting for the home province",
            work_order_id=waiting.id,
            cancellation_id=waiting.cancellation_id,
        )
    token = token_for(ctx, line, request.quote_id)
    quoted, current = snapshot.load_for_cancel(
        ctx.session, line.id, token.usage_upto if token else 0
    )
    bill, shown = quoted_bill(ctx, line, token, quoted)
    require_acknowledged(shown, request.acknowledged_warnings)
    route = refund_route(line, target, request, values, current, counter.store_code)
    if token is None:  # quoted_bill refuses a missing quote
        raise InvariantViolated("a review got past its checks without a quote")
    c = Cancellation(
        id=new_id(),
        reference=reference("XH", line.province_code, local_date(now).isoformat()),
        line_id=line.id,
        msisdn=line.msisdn,
        province_code=line.province_code,
        handling_province_code=handling_province,
        channel=CHANNEL,
        status=CancellationStatus.PENDING_REVIEW,
        account_status=CancellationStatus.PENDING_REVIEW,
        quote_id=request.quote_id,
        cancelled_at=now,  # the request's instant until the decision
        undo_until=now,
        period=period_of(local_date(token.created_at)),
        final_charges=[ch.as_dict() for ch in bill.charges],
        charges_fen=bill.charges_fen,
        refund_now_fen=bill.refund_now_fen,
        reserve_fen=bill.reserve_fen,
        forfeited_fen=bill.forfeited_fen,
        route=route.as_dict(),
        previous_status=line.status,
        gift_applied_fen=bill.gift_applied_fen,
        store_code=counter.store_code,
        staff_login=staff.login,
    )
    ctx.session.add(c)
    ctx.session.flush()
    order = route_to_home(
        ctx,
        {
            "id": new_id(),
            "kinds": [str(t) for t in found.triggers],
            "cancellation_id": c.id,
            "line_id": line.id,
            "msisdn": line.msisdn,
            "home_province": line.province_code,
            "handling_province": handling_province,
            "store_code": counter.store_code,
            "staff_login": staff.login,
            "opened_at": now.isoformat(),
            "request": {
                "quote_id": request.quote_id,
                "acknowledged_warnings": list(request.acknowledged_warnings),
                "in_person": counter.in_person,
                "documents": evidence,
            },
        },
    )
    line_event(
        ctx,
        "workorder.opened",
        line.msisdn,
        line.province_code,
        {
            "work_order_id": order.id,
            "cancellation_id": c.id,
            "reasons": order.reasons,
            "store_code": counter.store_code,
            "due_at": order.due_at.isoformat(),
            "documents_seen": evidence,
        },
        at=now,
    )
    return c, order


def route_to_home(ctx: Context, payload: dict[str, Any]) -> WorkOrder:
    """Hand the order to the line's home province. In one database the home province's
    `receive` runs here, in the request's transaction."""
    return receive(ctx, payload)


def receive(ctx: Context, payload: dict[str, Any]) -> WorkOrder:
    """The home province takes an order into its queue (the applier of `workorder.opened`):
    its deadline by the home province's policy and the working calendar. Idempotent by id."""
    known = ctx.session.get(WorkOrder, payload["id"])
    if known is not None:
        return known
    opened_at = dt.datetime.fromisoformat(payload["opened_at"])
    values = policy_values(ctx, payload["home_province"], local_date(opened_at))
    order = WorkOrder(
        id=payload["id"],
        kind=payload["kinds"][0],
        reasons=payload["kinds"],
        cancellation_id=payload["cancellation_id"],
        line_id=payload["line_id"],
        msisdn=payload["msisdn"],
        home_province=payload["home_province"],
        handling_province=payload["handling_province"],
        store_code=payload["store_code"],
        staff_login=payload["staff_login"],
        request=payload["request"],
        opened_at=opened_at,
        due_at=calendar.due_at(opened_at, values.review_working_days),
        status=OrderStatus.OPEN,
    )
    ctx.session.add(order)
    ctx.session.flush()
    return order


def open_order_of(ctx: Context, line_id: int) -> WorkOrder | None:
    return ctx.session.scalars(
        select(WorkOrder).where(WorkOrder.line_id == line_id, WorkOrder.status == OrderStatus.OPEN)
    ).first()


# --- the queue ---------------------------------------------------------------------------


def is_overdue(order: WorkOrder, now: dt.datetime) -> bool:
    """Open past its deadline: decided at read time, so the flag is never stale."""
    return order.status == OrderStatus.OPEN and now >= order.due_at


def as_json(order: WorkOrder, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": order.id,
        "kind": order.kind,
        "reasons": list(order.reasons),
        "msisdn": order.msisdn,
        "home_province": order.home_province,
        "handling_province": order.handling_province,
        "store_code": order.store_code,
        "cancellation_id": order.cancellation_id,
        "opened_at": order.opened_at,
        "due_at": order.due_at,
        "status": order.status,
        "overdue": is_overdue(order, now),
        "decided_at": order.decided_at,
        "decided_by": order.decided_by,
        "decision_reason": order.decision_reason,
    }


def may_read(staff: StaffClaims, order: WorkOrder) -> bool:
    return staff.role == Role.ADMIN or staff.province_code == order.home_province


def queue(ctx: Context, staff: StaffClaims, status: str | None) -> list[dict[str, Any]]:
    """The orders a back office sees (its own province's; an admin all), oldest deadline
    first. `open` includes the overdue ones, `overdue` is the open ones past `due_at`,
    `closed` the decided ones.

    A national deployment: a back office's request runs on its province's node, which holds
    its orders; an admin's list is gathered from every node (README, "Across nodes") and
    merged in the same order, or `503 NODE_UNAVAILABLE` naming a node that did not answer."""
    now = ctx.now()
    if staff.role != Role.ADMIN or not ctx.runtime.nodes.national:
        return queue_in(ctx.session, staff, status, now)
    answers = every_node(
        ctx.runtime, lambda s: queue_in(s, staff, status, now), session=ctx.session
    )
    merged = sorted(
        (o for orders in answers.values() for o in orders), key=lambda o: (o["due_at"], o["id"])
    )
    return merged[:QUEUE_LIMIT]


QUEUE_LIMIT = 500


def queue_in(
    session: Session, staff: StaffClaims, status: str | None, now: dt.datetime
) -> list[dict[str, Any]]:
    """`queue` in `session`'s database."""
    q = select(WorkOrder).order_by(WorkOrder.due_at, WorkOrder.id)
    if staff.role != Role.ADMIN:
        q = q.where(WorkOrder.home_province == staff.province_code)
    if status in ("open", "overdue"):
        q = q.where(WorkOrder.status == OrderStatus.OPEN)
    if status == "overdue":
        q = q.where(WorkOrder.due_at <= now)
    if status == "closed":
        q = q.where(WorkOrder.status != OrderStatus.OPEN)
    return [as_json(o, now) for o in session.scalars(q.limit(QUEUE_LIMIT))]


def find(ctx: Context, staff: StaffClaims, order_id: str, *, lock: bool = False) -> WorkOrder:
    """One order, if this member of staff may see it (another province's: 403)."""
    q = select(WorkOrder).where(WorkOrder.id == order_id)
    order = ctx.session.scalars(q.with_for_update() if lock else q).one_or_none()
    if order is None:
        raise DomainError("WORK_ORDER_NOT_FOUND", f"no work order {order_id}")
    if not may_read(staff, order):
        raise DomainError(
            "FORBIDDEN",
            f"work order {order_id} belongs to province {order.home_province}'s back office",
        )
    return order


def read_one(ctx: Context, staff: StaffClaims, order_id: str) -> dict[str, Any]:
    """One order as JSON (`find`). An admin's request runs on the node of the admin's own
    province, and the admin's list shows every node's orders: one found on no node of the
    request is read on the others (a national deployment; NODE_UNAVAILABLE when one of them
    did not answer and none had it)."""
    now = ctx.now()
    try:
        return as_json(find(ctx, staff, order_id), now)
    except DomainError as exc:
        if exc.code != "WORK_ORDER_NOT_FOUND" or staff.role != Role.ADMIN:
            raise
        if not ctx.runtime.nodes.national:
            raise
        not_found = exc

    def read(session: Session) -> dict[str, Any] | None:
        order = session.get(WorkOrder, order_id)
        return None if order is None else as_json(order, now)

    others = [n for n in ctx.runtime.nodes.names() if n != ctx.runtime.node]
    found = gather_reads(ctx.runtime, dict.fromkeys(others, read))
    for answer in found.answers.values():
        if answer is not None:
            return answer
    if found.missing:
        raise unavailable(ctx.runtime, found.missing)
    raise not_found


# --- overdue -----------------------------------------------------------------------------


def run_overdue(ctx: Context) -> dict[str, int]:
    """Tell the owner of each overdue order, once (the outbox), that the answer is late and
    still coming. The overdue flag itself is computed when read. Safe to repeat."""
    now = ctx.now()
    late = list(
        ctx.session.scalars(
            select(WorkOrder)
            .where(WorkOrder.status == OrderStatus.OPEN, WorkOrder.due_at <= now)
            .order_by(WorkOrder.due_at)
            .with_for_update()
        )
    )
    notified = 0
    for order in late:
        if order.overdue_notified_at is not None:
            continue
        line = ctx.session.get(Line, order.line_id)
        if line is None:  # pragma: no cover - the order's foreign key
            continue
        c = ctx.session.get(Cancellation, order.cancellation_id)
        ref = c.reference if c is not None else order.cancellation_id
        text = (
            f"【销户服务】您的销户申请（受理编号{ref}）审核已超过承诺时限，"
            "我们正在加急处理，结果将短信通知您。"
        )
        sms_about(ctx, line, text, "workorder.overdue", at=now)
        order.overdue_notified_at = now
        line_event(
            ctx,
            "workorder.overdue",
            line.msisdn,
            line.province_code,
            {"work_order_id": order.id, "due_at": order.due_at.isoformat()},
            at=now,
        )
        notified += 1
    ctx.session.flush()
    return {"overdue": len(late), "notified": notified}
