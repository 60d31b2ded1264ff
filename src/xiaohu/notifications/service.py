"""Writing side effects to the outbox (same transaction) and delivering them after commit."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def deliver(
    session: Session, sms: Any, provisioning: Any, now: dt.datetime, limit: int = 200
) -> int:
    """Deliver up to `limit` undelivered messages; each is marked in the same transaction as
    the gateway's record, and gateways ignore a message id they have seen (at least once)."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    done = 0
    for msg in session.scalars(stmt):
        msg.attempts += 1
        try:
            with session.begin_nested():
                if msg.topic == "sms":
                    p = msg.payload
                    sms.send(
                        session,
                        message_id=msg.id,
                        to=str(p["to"]),
                        text=str(p["text"]),
                        kind=str(p["kind"]),
                        at=now,
                    )
                elif msg.topic == "network.provisioning":
                    p = msg.payload
                    provisioning.order(
                        session,
                        message_id=msg.id,
                        msisdn=str(p["msisdn"]),
                        action=str(p["action"]),
                        at=now,
                    )
                msg.delivered_at = now
                done += 1
        except Exception as exc:  # a gateway failure must not lose the message: retry later
            log.warning("outbox %s delivery failed: %s", msg.id, exc)
            msg.last_error = str(exc)[:500]
    session.flush()
    return done
