"""The outbox relay of a node: its messages between provinces, onto the broker, in order.

`send` writes a message as an outbox row (topic `interprovince`) in the sender's transaction;
in a national deployment the ordinary outbox delivery leaves those rows alone
(`delivery.deliver(skip=...)`) and this relay takes them, in id order:

- a message for a province this node holds is applied here, in the relay's transaction
  (`interprovince.service.receive`, as `LocalLink` does): no round trip through the broker;
- any other is published to the broker and marked delivered only once the broker confirmed it.

A failure (the broker down, a local apply that cannot be done yet) stops the batch at that
row: the rows after it wait behind it, so two messages about one line are never applied out of
order. The row keeps `last_error` and its `attempts`, and is never given up (`dead`): a message
between provinces carries money one province owes another. Only a message that can never be
applied (its wire form malformed, or refused as such by its applier) is parked `dead`, for the
operator, as it would be forever in the way otherwise.

One relay works a node's outbox at a time (a PostgreSQL advisory lock held for the batch's
transaction; SQLite has one writer anyway), so two processes never publish out of order. A
batch published but not committed (the process dies, the database fails) is published again:
the receiving inbox drops the second copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from xiaohu.interprovince.rules import TOPIC, MalformedMessage, Message
from xiaohu.interprovince.service import Appliers, receive
from xiaohu.kit.db import transaction
from xiaohu.kit.ids import row_id
from xiaohu.national.broker import Broker, BrokerUnavailable
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.rules import OutboxStatus
from xiaohu.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 200
# The advisory lock key of the relay of a node's outbox (any constant bigint, one per purpose).
RELAY_LOCK_KEY = 0x78686F7574626F78  # "xhoutbox"


@dataclass
class RelayResult:
    """One batch on one node: how many rows were delivered (published or applied here), and
    whether it stopped at a row that failed (the rows behind it wait)."""

    delivered: int = 0
    stopped: bool = False
    locked_out: bool = False  # another process's relay holds the node's outbox


def relay_node(
    runtime: Runtime, node: str, broker: Broker, appliers: Appliers, limit: int = BATCH
) -> RelayResult:
    """Relay up to `limit` pending messages of `node`'s outbox, in one transaction there."""
    result = RelayResult()
    with transaction(runtime.sessions_of(node)) as session:
        if not _lock(session):
            result.locked_out = True
            return result
        now = runtime.clock_for(session).now()
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == TOPIC, OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
        for row in rows:
            if not _relay_one(runtime, node, session, broker, appliers, row, now):
                result.stopped = True
                break
            result.delivered += 1
        session.flush()
    return result


def _relay_one(
    runtime: Runtime,
    node: str,
    session: Session,
    broker: Broker,
    appliers: Appliers,
    row: OutboxMessage,
    now: dt.datetime,
) -> bool:
    """Deliver one row; False when it failed and the batch must stop behind it."""
    row.attempts += 1
    try:
        message = Message.from_wire(row.payload)
        if runtime.node_of(message.to_province) == node:
            receive(session, appliers, message, now)  # its own savepoint: all or nothing
        else:
            broker.publish(message)
    except MalformedMessage as exc:
        # Never appliable, anywhere: parked for the operator instead of blocking the node.
        log.error("interprovince outbox %s is malformed, parked dead: %s", row_id(row.id), exc)
        row.status, row.last_error, row.next_attempt_at = OutboxStatus.DEAD, str(exc)[:500], None
        return True
    except BrokerUnavailable as exc:
        _failed(row, exc, "broker")
        return False
    except Exception as exc:  # a local apply that failed (unknown kind, database): retry later
        _failed(row, exc, "local apply")
        if isinstance(exc, SQLAlchemyError) and not session.is_active:
            raise
        return False
    row.status, row.delivered_at = OutboxStatus.DELIVERED, now
    row.last_error, row.next_attempt_at = None, None
    return True


def _failed(row: OutboxMessage, exc: BaseException, where: str) -> None:
    row.last_error = (str(exc) or type(exc).__name__)[:500]
    if row.attempts == 1 or row.attempts % 60 == 0:  # said once, then about once a minute
        log.warning("interprovince outbox %s waits (%s): %s", row_id(row.id), where, row.last_error)


def _lock(session: Session) -> bool:
    """This transaction holds the node's relay lock (PostgreSQL), or needs none (SQLite: a
    write transaction holds the database's one write lock)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY})
    return bool(got)
