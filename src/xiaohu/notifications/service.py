"""Writing side effects to the outbox (same transaction) and delivering them after commit."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.billing.models import Refund
from xiaohu.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING_FLAG = "xiaohu_outbox_pending"


def enqueue(
    session: Session,
    topic: str,
    payload: dict[str, Any],
    *,
    at: dt.datetime,
    province_code: str | None,
) -> OutboxMessage:
    msg = OutboxMessage(topic=topic, payload=payload, created_at=at, province_code=province_code)
    session.add(msg)
    session.info[PENDING_FLAG] = True
    return msg


def send_sms(
    session: Session, to: str, text: str, kind: str, *, at: dt.datetime, province_code: str | None
) -> OutboxMessage:
    return enqueue(
        session, "sms", {"to": to, "text": text, "kind": kind}, at=at, province_code=province_code
    )


def order_provisioning(
    session: Session, msisdn: str, action: str, *, at: dt.datetime, province_code: str | None
) -> OutboxMessage:
    """Network provisioning: 'deprovision' stops service, 'restore' brings it back."""
    return enqueue(
        session,
        "network.provisioning",
        {"msisdn": msisdn, "action": action},
        at=at,
        province_code=province_code,
    )


class UndeliverableMessage(Exception):
    """A message this process cannot hand to any gateway (unknown topic, declined payout): it
    stays undelivered with `last_error` set, for an operator to see, instead of vanishing."""


def refund_key(refund_id: str) -> str:
    """The payment gateway's idempotency key for one refund: redelivery never pays twice."""
    return f"refund:{refund_id}"


def deliver(
    session: Session,
    sms: Any,
    provisioning: Any,
    now: dt.datetime,
    limit: int = 200,
    *,
    payments: Any = None,
) -> int:
    """Deliver up to `limit` undelivered messages; each is marked in the same transaction as
    the gateway's record, and gateways ignore a message (or refund) they have seen, so
    delivery is at least once and its effect exactly once. A message that fails (a gateway
    error, a declined payout, a topic nobody handles) keeps `delivered_at` empty and records
    `last_error`; the next delivery tries it again."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None))
        # Fewest attempts first: a message that keeps failing never holds back new ones.
        .order_by(OutboxMessage.attempts, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    done = 0
    for msg in session.scalars(stmt):
        msg.attempts += 1
        try:
            with session.begin_nested():
                _hand_over(session, msg, sms, provisioning, payments, now)
                msg.delivered_at = now
                msg.last_error = None
                done += 1
        except Exception as exc:  # a gateway failure must not lose the message: retry later
            log.warning("outbox %s delivery failed: %s", msg.id, exc)
            msg.last_error = str(exc)[:500] or type(exc).__name__
    session.flush()
    return done


def _hand_over(
    session: Session,
    msg: OutboxMessage,
    sms: Any,
    provisioning: Any,
    payments: Any,
    now: dt.datetime,
) -> None:
    p = msg.payload
    if msg.topic == "sms":
        sms.send(
            session,
            message_id=msg.id,
            to=str(p["to"]),
            text=str(p["text"]),
            kind=str(p["kind"]),
            at=now,
        )
    elif msg.topic == "network.provisioning":
        provisioning.order(
            session, message_id=msg.id, msisdn=str(p["msisdn"]), action=str(p["action"]), at=now
        )
    elif msg.topic == "payment.refund":
        _pay_refund(session, payments, p)
    else:
        raise UndeliverableMessage(f"no gateway handles topic {msg.topic!r}")


def _pay_refund(session: Session, payments: Any, p: dict[str, Any]) -> None:
    """Pay a refund out through the payment gateway (`billing.gateway.PaymentGateway`). A
    refund whose cancellation was reversed (返销) before the payout went out is not paid: the
    reversal already put the cash back on the line."""
    refund_id = str(p["refund_id"])
    if session.scalar(select(Refund.status).where(Refund.id == refund_id)) == "reversed":
        log.info("refund %s was reversed before its payout; not paid", refund_id)
        return
    if payments is None:
        raise UndeliverableMessage("no payment gateway to pay the refund out")
    amount = p["amount_fen"]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise UndeliverableMessage(f"refund amount {amount!r} is not int fen")
    result = payments.refund(amount, str(p["msisdn"]), refund_key(refund_id))
    if not result.succeeded:
        raise UndeliverableMessage(f"the payment gateway declined the refund: {result.reason}")
