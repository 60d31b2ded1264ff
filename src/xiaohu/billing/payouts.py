"""Refund payouts: a refund is owed (`pending`, on `refunds_payable`) until the payment
gateway confirms it; only then is it `paid` and moved to `gateway_clearing`.

At cancellation (and at the cycle's true-up) the refund is posted Dr subscriber_cash / Cr
refunds_payable and an outbox message orders the payout. The outbox delivers it (`pay_out`),
retries a declined or failed payout with backoff, and after its last attempt parks it: the
refund is then `failed`, still payable in the ledger, listed by `xiaohu refunds list` and sent
again by `xiaohu refunds retry`.

The gateway's idempotency key is `refund:<id>` and, after the gateway has declined it n times,
`refund:<id>:<n>`. A decline is a final answer that moved no money, so the next try may be a
new request; anything else (a timeout, an error) is retried under the same key, so a payout
the gateway took but we did not hear of is never paid twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from xiaohu.billing.gateway import PaymentGateway
from xiaohu.billing.models import Refund
from xiaohu.billing.rules import RefundKind, RefundRoute, RefundStatus
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id
from xiaohu.ledger.rules import GATEWAY_CLEARING, credit, debit
from xiaohu.ledger.service import post
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxTopic
from xiaohu.notifications.service import enqueue

PAYABLE = "refunds_payable"
TOPIC = OutboxTopic.REFUND_PAYOUT
PAID_OUT_KIND = "refund.paid_out"  # the journal posting of a payout the gateway confirmed

_REFUNDS: Table = Refund.__table__  # type: ignore[assignment]


class PayoutDeclined(Exception):
    """The gateway declined the payout (or nothing can pay it): retried later by the outbox."""


def refund_key(refund_id: str, declines: int = 0) -> str:
    """The payment gateway's idempotency key for one payout try (see the module's note)."""
    return f"refund:{refund_id}" if declines == 0 else f"refund:{refund_id}:{declines}"


def payable_leg(province_code: str, amount_fen: int, line_id: int) -> Any:
    """The credit leg of a refund ordered from the gateway: owed until it is paid out."""
    return credit(f"{PAYABLE}:{province_code}", amount_fen, line_id)


def payout_order(
    refund_id: str, msisdn: str, amount_fen: int, route: dict[str, object]
) -> dict[str, object]:
    """The outbox payload that orders one payout from the gateway (`pay_out` delivers it)."""
    return {"refund_id": refund_id, "msisdn": msisdn, "amount_fen": amount_fen, "route": route}


def refund_to_route(
    session: Session,
    *,
    cancellation_id: str,
    line_id: int,
    msisdn: str,
    province_code: str,
    kind: RefundKind,
    amount_fen: int,
    route: RefundRoute,
    at: dt.datetime,
) -> dict[str, object] | None:
    """Record a refund (at cancellation or at the true-up) to its route, one Core insert; the
    ledger legs are the caller's. A transfer to another line or cash from a store's drawer is
    done here (`paid`); a payout is owed (`pending`) and its order is returned for the
    caller's outbox write."""
    refund_id = new_id()
    stored = route.as_dict()
    session.connection().execute(
        _REFUNDS.insert(),
        {
            "id": refund_id,
            "cancellation_id": cancellation_id,
            "line_id": line_id,
            "province_code": province_code,
            "kind": kind,
            "amount_fen": amount_fen,
            "route": stored,
            "status": RefundStatus.PAID if route.paid_at_once else RefundStatus.PENDING,
            "created_at": at,
            "paid_at": at if route.is_cash else None,
        },
    )
    if route.paid_at_once:
        return None
    return payout_order(refund_id, msisdn, amount_fen, stored)


def refunds_to_route(
    session: Session,
    refunds: list[dict[str, Any]],
    *,
    kind: RefundKind,
    route: RefundRoute,
    at: dt.datetime,
) -> list[dict[str, object] | None]:
    """`refund_to_route` for many refunds of one kind and route (each: cancellation_id,
    line_id, msisdn, province_code, amount_fen) in one executemany; each one's payout order
    (or None), in their order."""
    stored = route.as_dict()
    rows = [
        {
            "id": new_id(),
            "cancellation_id": r["cancellation_id"],
            "line_id": r["line_id"],
            "province_code": r["province_code"],
            "kind": kind,
            "amount_fen": r["amount_fen"],
            "route": stored,
            "status": RefundStatus.PAID if route.paid_at_once else RefundStatus.PENDING,
            "created_at": at,
            "paid_at": at if route.is_cash else None,
        }
        for r in refunds
    ]
    if rows:
        session.connection().execute(_REFUNDS.insert(), rows)
    if route.paid_at_once:
        return [None] * len(rows)
    return [
        payout_order(row["id"], r["msisdn"], r["amount_fen"], stored)
        for row, r in zip(rows, refunds, strict=True)
    ]


def pay_out(
    session: Session, payments: PaymentGateway | None, payload: dict[str, Any], now: dt.datetime
) -> None:
    """Deliver one payout order. Paid: the refund is `paid` and its money leaves
    `refunds_payable` for `gateway_clearing`. Declined: `PayoutDeclined` (the outbox retries).

    An order without a refund row, or for a refund already paid, is handed to the gateway
    again under its last key: the gateway answers what it answered before and nothing moves."""
    refund_id = str(payload["refund_id"])
    if payments is None:
        raise PayoutDeclined("no payment gateway to pay the refund out")
    refund = session.get(Refund, refund_id)
    amount = refund.amount_fen if refund is not None else payload["amount_fen"]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PayoutDeclined(f"refund amount {amount!r} is not int fen")
    declines = refund.declines if refund is not None else 0
    result = payments.refund(amount, str(payload["msisdn"]), refund_key(refund_id, declines))
    if refund is None or refund.status == RefundStatus.PAID:
        if not result.succeeded:
            raise PayoutDeclined(f"the payment gateway declined the refund: {result.reason}")
        return
    if not result.succeeded:
        refund.declines += 1
        refund.last_error = f"declined: {result.reason}"
        raise PayoutDeclined(f"the payment gateway declined the refund: {result.reason}")
    refund.status, refund.paid_at = RefundStatus.PAID, now
    refund.gateway_ref, refund.last_error = result.gateway_ref, None
    p = refund.province_code
    post(
        session,
        PAID_OUT_KIND,
        [debit(f"{PAYABLE}:{p}", amount, refund.line_id), credit(GATEWAY_CLEARING, amount)],
        at=now,
        ref=refund.cancellation_id,
        memo=f"refund:{refund.id}",
        province_code=p,
    )


def park(session: Session, payload: dict[str, Any], error: str | None) -> None:
    """The outbox gave the payout up: the refund is `failed` (still owed) for the operator."""
    session.execute(
        update(Refund)
        .where(Refund.id == str(payload.get("refund_id")), Refund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.FAILED, last_error=error)
        .execution_options(synchronize_session="fetch")
    )


def list_refunds(
    session: Session, status: str | None = None, limit: int = 500
) -> list[tuple[Refund, str]]:
    """Refunds with their number (the cancelled line's), oldest first; `status` narrows to
    pending, paid or failed."""
    stmt = (
        select(Refund, Line.msisdn)
        .join(Line, Line.id == Refund.line_id)
        .order_by(Refund.created_at, Refund.id)
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(Refund.status == status)
    return [(r, str(m)) for r, m in session.execute(stmt)]


def failed_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Refund.id).where(Refund.status == RefundStatus.FAILED)))


def retry(session: Session, refund_ids: list[str], now: dt.datetime) -> int:
    """Send failed refunds again: each is `pending` once more with a fresh payout order (the
    dead one stays as the record of what failed). Returns how many were queued."""
    queued = 0
    for refund_id in refund_ids:
        refund = session.get(Refund, refund_id, with_for_update=True)
        if refund is None:
            raise DomainError("REFUND_NOT_FOUND", f"no refund {refund_id}")
        if refund.status != RefundStatus.FAILED:
            raise DomainError(
                "REFUND_NOT_FAILED", f"refund {refund_id} is {refund.status}, not failed"
            )
        refund.status, refund.last_error = RefundStatus.PENDING, None
        msisdn = session.scalar(select(Line.msisdn).where(Line.id == refund.line_id))
        payout = payout_order(refund.id, str(msisdn), refund.amount_fen, refund.route)
        enqueue(session, TOPIC, payout, at=now, province_code=refund.province_code)
        queued += 1
    session.flush()
    return queued


def statuses(session: Session, refund_ids: list[str]) -> dict[str, str]:
    rows = session.execute(select(Refund.id, Refund.status).where(Refund.id.in_(refund_ids)))
    return {str(i): str(s) for i, s in rows}
