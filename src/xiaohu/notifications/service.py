"""Writing side effects to the outbox, in the caller's transaction; `xiaohu.delivery` delivers
them after commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from xiaohu.kit.db import OUTBOX_WRITTEN
from xiaohu.notifications.models import OutboxMessage, OutboxTopic

_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


def enqueue(
    session: Session,
    topic: str,
    payload: dict[str, Any],
    *,
    at: dt.datetime,
    province_code: str | None,
) -> OutboxMessage:
    """The door for one side effect: the outbox row, in the caller's transaction, and the
    session marked so the unit of work delivers it after commit."""
    msg = OutboxMessage(topic=topic, payload=payload, created_at=at, province_code=province_code)
    session.add(msg)
    session.info[OUTBOX_WRITTEN] = True
    return msg


def enqueue_many(
    session: Session,
    messages: list[tuple[str, dict[str, Any]]],
    *,
    at: dt.datetime,
    province_code: str | None,
) -> None:
    """`enqueue` for several (topic, payload) messages in one multi-row Core insert, for a hot
    path that should not pay a round trip each (the cancellation)."""
    if not messages:
        return
    rows = [
        {"topic": topic, "payload": payload, "province_code": province_code, "created_at": at}
        for topic, payload in messages
    ]
    session.connection().execute(_OUTBOX.insert(), rows)
    session.info[OUTBOX_WRITTEN] = True


def sms_message(to: str, text: str, kind: str) -> tuple[str, dict[str, Any]]:
    """An SMS as an outbox (topic, payload), for `enqueue_many`."""
    return OutboxTopic.SMS, {"to": to, "text": text, "kind": kind}


def provisioning_message(msisdn: str, action: str) -> tuple[str, dict[str, Any]]:
    """Network provisioning as an outbox (topic, payload): 'deprovision' stops service,
    'restore' brings it back."""
    return OutboxTopic.PROVISIONING, {"msisdn": msisdn, "action": action}


def send_sms(
    session: Session, to: str, text: str, kind: str, *, at: dt.datetime, province_code: str | None
) -> OutboxMessage:
    return enqueue(session, *sms_message(to, text, kind), at=at, province_code=province_code)


def order_provisioning(
    session: Session, msisdn: str, action: str, *, at: dt.datetime, province_code: str | None
) -> OutboxMessage:
    """Network provisioning: 'deprovision' stops service, 'restore' brings it back."""
    topic, payload = provisioning_message(msisdn, action)
    return enqueue(session, topic, payload, at=at, province_code=province_code)
