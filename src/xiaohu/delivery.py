"""Delivering the outbox after commit: each message to the gateway of its topic (SMS and
network provisioning, `notifications`; refund payouts, `billing.payouts`; messages between
provinces, to the `interprovince` link the assembly chose). Above the areas
whose topics it hands over, so none of them imports another for it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from xiaohu.billing.payouts import TOPIC, park, pay_out
from xiaohu.gateways import PaymentGateway, ProvisioningGateway, SmsGateway
from xiaohu.interprovince import rules as interprovince
from xiaohu.interprovince.service import Link
from xiaohu.kit.ids import row_id
from xiaohu.notifications.models import OutboxMessage, OutboxTopic
from xiaohu.notifications.rules import OutboxStatus, RetryPolicy

log = logging.getLogger(__name__)


class UndeliverableMessage(Exception):
    """A message this process cannot hand to any gateway (unknown topic, declined payout): it
    is tried again later with backoff, then parked `dead` with `last_error`, for an operator
    to see, instead of vanishing."""


def due(now: dt.datetime) -> Any:
    """The messages to deliver at `now`: pending, and new or past their next attempt."""
    return (OutboxMessage.status == OutboxStatus.PENDING) & (
        OutboxMessage.next_attempt_at.is_(None) | (OutboxMessage.next_attempt_at <= now)
    )


def deliver(
    session: Session,
    sms: SmsGateway,
    provisioning: ProvisioningGateway,
    now: dt.datetime,
    limit: int = 200,
    *,
    payments: PaymentGateway | None = None,
    retry: RetryPolicy | None = None,
    link: Link | None = None,
    skip: frozenset[str] = frozenset(),
) -> int:
    """Deliver up to `limit` due messages, of every topic but those in `skip` (a national
    deployment's messages between provinces: the relay's, `national.relay`). Each is marked in
    the same transaction as the gateway's record, and gateways ignore a message (or refund)
    they have seen, so delivery is at least once and its effect exactly once. A message that
    fails (a gateway error, a declined payout, a topic nobody handles) records `last_error` and
    waits its backoff (`rules.RetryPolicy`) before the next try; after the last one it is
    `dead`, and a dead payout leaves its refund `failed`.

    The batch runs under one savepoint, its writes flushed together at the end: a gateway that
    refuses raises before writing, so only a database error can spoil the batch, and then it
    is rolled back and delivered again one savepoint per message, to keep the others."""
    retry = retry or RetryPolicy()
    stmt = (
        select(OutboxMessage)
        .where(due(now))
        # Fewest attempts first: a message that keeps failing never holds back new ones.
        .order_by(OutboxMessage.attempts, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip:
        stmt = stmt.where(OutboxMessage.topic.not_in(skip))
    messages = list(session.scalars(stmt))
    if not messages:
        return 0
    gateways = (sms, provisioning, payments, link)
    try:
        with session.begin_nested(), session.no_autoflush:
            done = _deliver_batch(session, messages, *gateways, now)
            session.flush()
    except SQLAlchemyError as exc:
        log.warning("outbox batch failed (%s); delivering one message at a time", exc)
        done = 0
        for msg in messages:
            try:
                with session.begin_nested():
                    done += _deliver_one(session, msg, *gateways, now)
            except SQLAlchemyError as one_exc:
                msg.attempts += 1
                msg.last_error = str(one_exc)[:500] or type(one_exc).__name__
    _schedule(session, messages, now, retry)
    session.flush()
    return done


def _schedule(
    session: Session, messages: list[OutboxMessage], now: dt.datetime, retry: RetryPolicy
) -> None:
    """Delivered: done. Failed: its next try after the backoff, or dead after the last."""
    for msg in messages:
        if msg.delivered_at is not None:
            msg.status, msg.next_attempt_at = OutboxStatus.DELIVERED, None
            continue
        msg.status, msg.next_attempt_at = retry.after_failure(msg.attempts, now)
        if msg.status == OutboxStatus.DEAD:
            log.error(
                "outbox %s (%s) dead after %d attempts", row_id(msg.id), msg.topic, msg.attempts
            )
            if msg.topic == TOPIC:
                park(session, msg.payload, msg.last_error)


# Topics whose gateway may take a whole batch at once: (gateway argument, method, payload keys).
_BATCHED: dict[str, tuple[int, str, tuple[str, ...]]] = {
    OutboxTopic.SMS: (0, "send_many", ("to", "text", "kind")),
    OutboxTopic.PROVISIONING: (1, "order_many", ("msisdn", "action")),
}


def _deliver_batch(
    session: Session,
    messages: list[OutboxMessage],
    sms: SmsGateway,
    provisioning: ProvisioningGateway,
    payments: PaymentGateway | None,
    link: Link | None,
    now: dt.datetime,
) -> int:
    """Hand the messages over: to a gateway's batch method (`send_many`, `order_many`) where it
    has one, one statement for many messages; else one by one."""
    gateways = (sms, provisioning)
    groups: dict[str, list[OutboxMessage]] = {}
    done = 0
    for msg in messages:
        batched = _BATCHED.get(msg.topic)
        if batched is not None and hasattr(gateways[batched[0]], batched[1]):
            groups.setdefault(msg.topic, []).append(msg)
        else:
            done += _deliver_one(session, msg, sms, provisioning, payments, link, now)
    for topic, group in groups.items():
        index, method, keys = _BATCHED[topic]
        items, ready = [], []
        for msg in group:
            msg.attempts += 1
            try:
                items.append({"message_id": msg.id, **{k: str(msg.payload[k]) for k in keys}})
            except (KeyError, TypeError) as exc:
                msg.last_error = f"malformed {topic} payload: {exc!r}"
                continue
            ready.append(msg)
        group = ready
        if not group:
            continue
        try:
            getattr(gateways[index], method)(session, items, now)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # the gateway refused the batch: every message retries later
            log.warning("outbox %s batch of %d failed: %s", topic, len(group), exc)
            for msg in group:
                msg.last_error = str(exc)[:500] or type(exc).__name__
            continue
        for msg in group:
            msg.delivered_at = now
            msg.last_error = None
        done += len(group)
    return done


def _deliver_one(
    session: Session,
    msg: OutboxMessage,
    sms: SmsGateway,
    provisioning: ProvisioningGateway,
    payments: PaymentGateway | None,
    link: Link | None,
    now: dt.datetime,
) -> int:
    """Hand one message over; 1 if delivered. A gateway refusal is kept on the message; a
    database error goes up (the batch is retried message by message)."""
    msg.attempts += 1
    try:
        _hand_over(session, msg, sms, provisioning, payments, link, now)
    except SQLAlchemyError:
        raise
    except Exception as exc:  # a gateway failure must not lose the message: retry later
        log.warning("outbox %s delivery failed: %s", row_id(msg.id), exc)
        msg.last_error = str(exc)[:500] or type(exc).__name__
        return 0
    msg.delivered_at = now
    msg.last_error = None
    return 1


def _hand_over(
    session: Session,
    msg: OutboxMessage,
    sms: SmsGateway,
    provisioning: ProvisioningGateway,
    payments: PaymentGateway | None,
    link: Link | None,
    now: dt.datetime,
) -> None:
    p = msg.payload
    if msg.topic == OutboxTopic.SMS:
        sms.send(
            session,
            message_id=msg.id,
            to=str(p["to"]),
            text=str(p["text"]),
            kind=str(p["kind"]),
            at=now,
        )
    elif msg.topic == OutboxTopic.PROVISIONING:
        provisioning.order(
            session, message_id=msg.id, msisdn=str(p["msisdn"]), action=str(p["action"]), at=now
        )
    elif msg.topic == OutboxTopic.REFUND_PAYOUT:
        pay_out(session, payments, p, now)
    elif msg.topic == interprovince.TOPIC and link is not None:
        link.publish(session, interprovince.Message.from_wire(p), now)
    else:
        raise UndeliverableMessage(f"no gateway handles topic {msg.topic!r}")
