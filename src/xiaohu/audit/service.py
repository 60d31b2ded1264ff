"""Appending to and verifying the audit log."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.audit.models import AuditChainHead, AuditEvent
from xiaohu.audit.rules import GENESIS, NATIONAL_CHAIN, event_hash

if TYPE_CHECKING:
    from xiaohu.runtime import Context

_HEADS: Table = AuditChainHead.__table__  # type: ignore[assignment]
_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_LOCK_HEAD = (
    select(_HEADS.c.seq, _HEADS.c.last_hash)
    .where(_HEADS.c.chain == bindparam("chain"))
    .with_for_update()
)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), last_hash=bindparam("head_hash"))
)
_INSERT_EVENT = _EVENTS.insert()
# PostgreSQL: the event and the head's move in one statement (a data-modifying CTE), one round
# trip fewer while the head is locked. SQLite has no such CTE: two statements there.
_EVENT_COLUMNS = [c for c in _EVENTS.c if c.key != "id"]
_INSERT_AND_MOVE = _MOVE_HEAD.add_cte(
    _EVENTS.insert()
    .values({c.key: bindparam(f"ev_{c.key}", type_=c.type) for c in _EVENT_COLUMNS})
    .cte("new_event")
)


def _lock_head(connection: Connection, chain: str) -> tuple[int, str]:
    """The chain's tip, row-locked until commit (created at genesis on first use)."""
    head = connection.execute(_LOCK_HEAD, {"chain": chain}).first()
    if head is not None:
        return int(head.seq), str(head.last_hash)
    try:
        with connection.begin_nested():
            connection.execute(_HEADS.insert(), {"chain": chain, "seq": 0, "last_hash": GENESIS})
    except IntegrityError:
        pass  # another transaction created it first; lock theirs
    head = connection.execute(_LOCK_HEAD, {"chain": chain}).one()
    return int(head.seq), str(head.last_hash)


def append(
    session: Session,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    province_code: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add one event at the tip of its province's chain. The head's row lock is held until
    commit, so a use case appends its event last: the shorter the rest of its transaction, the
    sooner the next event of that province can be written. Core statements, no ORM flush:
    lock the head, then insert the event and move the head (one statement on PostgreSQL)."""
    chain = province_code or NATIONAL_CHAIN
    payload = data or {}
    connection = session.connection()
    seq, last_hash = _lock_head(connection, chain)
    seq += 1
    digest = event_hash(
        last_hash,
        chain=chain,
        seq=seq,
        occurred_at=at,
        actor=actor,
        action=action,
        subject=subject,
        data=payload,
    )
    event = {
        "chain": chain,
        "seq": seq,
        "occurred_at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "province_code": province_code,
        "data": payload,
        "prev_hash": last_hash,
        "hash": digest,
    }
    head = {"head_chain": chain, "head_seq": seq, "head_hash": digest}
    if connection.dialect.name == "postgresql":
        connection.execute(_INSERT_AND_MOVE, {**{f"ev_{k}": v for k, v in event.items()}, **head})
    else:
        connection.execute(_INSERT_EVENT, event)
        connection.execute(_MOVE_HEAD, head)


def line_event(
    ctx: Context,
    action: str,
    msisdn: str,
    province_code: str,
    data: dict[str, Any],
    *,
    at: dt.datetime | None = None,
) -> None:
    """An event about one line (subject `line:<msisdn>`) by the unit of work's actor, in the
    line's home-province chain. Like `append`, call it last in a use case."""
    append(
        ctx.session,
        at=at if at is not None else ctx.now(),
        actor=ctx.actor,
        action=action,
        subject=f"line:{msisdn}",
        province_code=province_code,
        data=data,
    )


def verify(session: Session) -> dict[str, Any]:
    """Recompute every chain; report the first break of each (a changed or missing event)."""
    broken: list[dict[str, Any]] = []
    count = 0
    # Read as rows, not ORM objects: appends move heads with Core statements, so an identity
    # map holding a head from an earlier verify would be stale.
    heads = {h.chain: h for h in session.execute(select(_HEADS)).all()}
    chains = set(heads) | set(session.scalars(select(AuditEvent.chain).distinct()))
    for chain in sorted(chains):
        prev, expected_seq = GENESIS, 1
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq)
            .execution_options(yield_per=2000)
        )
        for ev in session.scalars(stmt):
            count += 1
            recomputed = event_hash(
                prev,
                chain=chain,
                seq=ev.seq,
                occurred_at=ev.occurred_at,
                actor=ev.actor,
                action=ev.action,
                subject=ev.subject,
                data=ev.data,
            )
            if ev.seq != expected_seq or ev.prev_hash != prev or ev.hash != recomputed:
                broken.append({"chain": chain, "seq": ev.seq, "reason": "hash mismatch or gap"})
                break
            prev, expected_seq = ev.hash, expected_seq + 1
        else:
            head = heads.get(chain)
            if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
                broken.append(
                    {"chain": chain, "seq": expected_seq, "reason": "events missing at the tip"}
                )
    return {"intact": not broken, "events": count, "chains": len(chains), "broken": broken}


def count_events(session: Session, subject: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEvent)
    if subject is not None:
        stmt = stmt.where(AuditEvent.subject == subject)
    return int(session.scalar(stmt) or 0)
