"""Appending to and verifying the audit log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.audit.models import AuditChainHead, AuditEvent
from xiaohu.audit.rules import GENESIS, NATIONAL_CHAIN, event_hash
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


def import_event(
    ctx: Context, action: str, source: str, data: dict[str, Any], *, at: dt.datetime
) -> None:
    """An event about one import of records (subject `import:<source>`, cut to fit) by the
    unit of work's actor, in the national chain. Like `append`, call it last in a use case."""
    append(
        ctx.session,
        at=at,
        actor=ctx.actor,
        action=action,
        subject=f"import:{source}"[:80],
        data=data,
    )


VERIFY_BATCH = 2000


def verify(session: Session, *, batch: int = VERIFY_BATCH) -> dict[str, Any]:
    """Recompute every chain; report the first break of each (a changed or missing event).

    Events are read a batch at a time by key (`seq` after the last one read), so memory stays
    bounded for millions of events on both engines without a server-side cursor, which
    PostgreSQL allows only inside a transaction (a read-only request runs in autocommit)."""
    broken: list[dict[str, Any]] = []
    count = 0
    # Read as rows, not ORM objects: appends move heads with Core statements, so an identity
    # map holding a head from an earlier verify would be stale.
    heads = {h.chain: h for h in session.execute(select(_HEADS)).all()}
    chains = set(heads) | set(session.scalars(select(_EVENTS.c.chain).distinct()))
    for chain in sorted(chains):
        read, fault = _verify_chain(session, chain, batch)
        count += read
        if fault is not None:
            broken.append(fault)
    return {"intact": not broken, "events": count, "chains": len(chains), "broken": broken}


def _verify_chain(session: Session, chain: str, batch: int) -> tuple[int, dict[str, Any] | None]:
    """(events read, the first break or None). Each batch is a statement of its own, so events
    appended while the check runs may be read too: the head is read after the events, and
    when it has moved on meanwhile the events up to it are read as well."""
    prev, expected_seq, count = GENESIS, 1, 0
    for _ in range(3):  # catching up with appends made while reading, a few times at most
        for ev in _events(session, chain, expected_seq - 1, batch):
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
                return count, {"chain": chain, "seq": ev.seq, "reason": "hash mismatch or gap"}
            prev, expected_seq = ev.hash, expected_seq + 1
        head = session.execute(select(_HEADS).where(_HEADS.c.chain == chain)).first()
        if head is None or (head.seq == expected_seq - 1 and head.last_hash == prev):
            return count, None
        if head.seq < expected_seq - 1:
            break  # events past the head: not appended through it
    return count, {"chain": chain, "seq": expected_seq, "reason": "events missing at the tip"}


def _events(session: Session, chain: str, after: int, batch: int) -> Iterator[Any]:
    """The chain's events after `seq` `after`, in order, `batch` rows a statement (keyset
    pagination: each batch starts where the last ended, found by the index on chain, seq)."""
    while True:
        stmt = (
            select(_EVENTS)
            .where(_EVENTS.c.chain == chain, _EVENTS.c.seq > after)
            .order_by(_EVENTS.c.seq)
            .limit(batch)
        )
        rows = session.execute(stmt).all()
        yield from rows
        if len(rows) < batch:
            return
        after = int(rows[-1].seq)


def count_events(session: Session, subject: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEvent)
    if subject is not None:
        stmt = stmt.where(AuditEvent.subject == subject)
    return int(session.scalar(stmt) or 0)


# PostgreSQL: every row of a batch in one statement, the columns as arrays (a pipelined
# executemany still costs a bind and a message a row: a tenth of the run's time at a million
# lines). The JSON is written as the driver would write it (json.dumps) and cast.
_UNNEST_EVENTS = (
    "INSERT INTO audit_events (chain, seq, occurred_at, actor, action, subject, province_code, "
    "data, prev_hash, hash) SELECT chain, seq, occurred_at, actor, action, subject, "
    "province_code, data::jsonb, prev_hash, hash FROM unnest(%s::text[], %s::bigint[], "
    "%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[]) AS e(chain, seq, occurred_at, actor, action, subject, "
    "province_code, data, prev_hash, hash)"
)
_UNNEST_KEYS = ("chain", "seq", "occurred_at", "actor", "action", "subject", "province_code",
                "data", "prev_hash", "hash")  # fmt: skip


def _insert_events(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if connection.dialect.name != "postgresql" or len(rows) < 2:
        connection.execute(_INSERT_EVENT, rows)  # executemany: a loop in C on SQLite
        return
    columns = [
        [json.dumps(r["data"]) for r in rows]
        if k == "data"
        else [r[k].astimezone(dt.UTC) for r in rows]
        if k == "occurred_at"
        else [r[k] for r in rows]
        for k in _UNNEST_KEYS
    ]
    connection.exec_driver_sql(_UNNEST_EVENTS, tuple(columns))


def append_many(session: Session, events: list[dict[str, Any]]) -> None:
    """`append` for many events (each: at, actor, action, subject, province_code, data), in
    their order: each chain's head is locked once, its events go in one multi-row insert and
    the head moves once. For runs that write thousands of events a transaction."""
    by_chain: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_chain.setdefault(ev.get("province_code") or NATIONAL_CHAIN, []).append(ev)
    connection = session.connection()
    for chain in sorted(by_chain):  # always the same order: no deadlock between two runs
        seq, last_hash = _lock_head(connection, chain)
        rows = []
        for ev in by_chain[chain]:
            seq += 1
            payload = ev.get("data") or {}
            digest = event_hash(
                last_hash,
                chain=chain,
                seq=seq,
                occurred_at=ev["at"],
                actor=ev["actor"],
                action=ev["action"],
                subject=ev["subject"],
                data=payload,
            )
            rows.append(
                {
                    "chain": chain,
                    "seq": seq,
                    "occurred_at": ev["at"],
                    "actor": ev["actor"],
                    "action": ev["action"],
                    "subject": ev["subject"],
                    "province_code": ev.get("province_code"),
                    "data": payload,
                    "prev_hash": last_hash,
                    "hash": digest,
                }
            )
            last_hash = digest
        _insert_events(connection, rows)
        connection.execute(
            _MOVE_HEAD, {"head_chain": chain, "head_seq": seq, "head_hash": last_hash}
        )
