"""Sending a message to a province, and applying one that arrived.

The seam (README, "Messages between provinces"):
- **Out**: `send` writes the message as an outbox row (topic `interprovince`) in the sender's
  own transaction, so it leaves if and only if the sender's writes commit. After commit the
  outbox delivery hands the row to a `Link`: `publish(session, message, now)`.
- **In**: the receiving province calls `receive(session, appliers, message, now)` in a
  transaction of its own: the message is applied at most once (its id is remembered in
  `interprovince_applied`), by the applier registered for its kind.

In one database the link is `LocalLink`: publishing is receiving, in the delivery's own
transaction (inline in sandbox mode, the background thread in production). A national deployment
with provinces on different database servers gives the outbox delivery a broker link instead
(publish to the broker's queue of `to_province`), and runs a consumer in each province that calls
`receive` for what arrives. The areas' code (`send`, their appliers) does not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.interprovince.models import AppliedMessage
from xiaohu.interprovince.rules import TOPIC, Message, check_province
from xiaohu.kit.ids import new_id
from xiaohu.notifications.service import enqueue
from xiaohu.runtime import Context

# An applier carries out one kind of message in the receiving province's transaction: its
# writes touch that province's data and books only. It must not commit.
Applier = Callable[[Session, Message, dt.datetime], None]


class UnknownKind(LookupError):
    """No applier for a message's kind: the delivery keeps it and tries again later."""


class Appliers:
    """The appliers by kind. Built by whoever assembles a process (`xiaohu.assembly`), from
    each area's own list, so importing an area registers nothing anywhere."""

    def __init__(self, entries: Iterable[tuple[str, Applier]] = ()) -> None:
        self._by_kind: dict[str, Applier] = {}
        for kind, applier in entries:
            self.register(kind, applier)

    def register(self, kind: str, applier: Applier) -> None:
        if kind in self._by_kind:
            raise ValueError(f"an applier for {kind!r} is already registered")
        self._by_kind[kind] = applier

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def __getitem__(self, kind: str) -> Applier:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownKind(f"no applier for interprovince message kind {kind!r}") from None


class Link(Protocol):
    """How a message leaves the sender's outbox for its province. A broker adapter implements
    `publish` (send to the queue of `message.to_province`; raise to have the outbox retry)."""

    def publish(self, session: Session, message: Message, now: dt.datetime) -> None: ...


class LocalLink:
    """One database for every province: publishing applies the message here and now."""

    def __init__(self, appliers: Appliers) -> None:
        self.appliers = appliers

    def publish(self, session: Session, message: Message, now: dt.datetime) -> None:
        receive(session, self.appliers, message, now)


def send(
    ctx: Context,
    to_province: str,
    kind: str,
    payload: Mapping[str, Any],
    *,
    from_province: str | None = None,
) -> Message:
    """Address a message to `to_province`, in the caller's transaction (the outbox). Its
    effect there comes later, once, by the receiving province's applier for `kind`."""
    check_province(to_province, "to_province")
    if from_province is not None:
        check_province(from_province, "from_province")
    message = Message(
        id=new_id(),
        kind=kind,
        to_province=to_province,
        from_province=from_province,
        sent_at=ctx.now(),
        payload=dict(payload),
    )
    enqueue(ctx.session, TOPIC, message.as_wire(), at=message.sent_at, province_code=to_province)
    return message


def receive(session: Session, appliers: Appliers, message: Message, now: dt.datetime) -> bool:
    """Apply `message` in the receiving province's transaction, once: True if applied now,
    False if it had been before (nothing changes). An unknown kind raises `UnknownKind`."""
    seen = session.scalar(
        select(AppliedMessage.message_id).where(AppliedMessage.message_id == message.id)
    )
    if seen is not None:
        return False
    applier = appliers[message.kind]
    with session.begin_nested():  # the applier's writes and the record of them, or neither
        applier(session, message, now)
        session.add(
            AppliedMessage(
                message_id=message.id,
                kind=message.kind,
                from_province=message.from_province,
                to_province=message.to_province,
                sent_at=message.sent_at,
                applied_at=now,
            )
        )
        session.flush()
    return True
