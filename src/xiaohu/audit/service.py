"""Appending to and verifying the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.audit.models import AuditChainHead, AuditEvent
from xiaohu.audit.rules import GENESIS, NATIONAL_CHAIN, event_hash


def _lock_head(session: Session, chain: str) -> AuditChainHead:
    stmt = select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    head = session.scalars(stmt).one_or_none()
    if head is not None:
        return head
    try:
        with session.begin_nested():
            session.add(AuditChainHead(chain=chain, seq=0, last_hash=GENESIS))
    except IntegrityError:
        pass  # another transaction created it first; lock theirs
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def append(
    session: Session,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    province_code: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event at the tip of its province's chain (row lock held until commit)."""
    chain = province_code or NATIONAL_CHAIN
    payload = data or {}
    head = _lock_head(session, chain)
    seq = head.seq + 1
    digest = event_hash(
        head.last_hash,
        chain=chain,
        seq=seq,
        occurred_at=at,
        actor=actor,
        action=action,
        subject=subject,
        data=payload,
    )
    event = AuditEvent(
        chain=chain,
        seq=seq,
        occurred_at=at,
        actor=actor,
        action=action,
        subject=subject,
        province_code=province_code,
        data=payload,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(event)
    head.seq = seq
    head.last_hash = digest
    session.flush()
    return event


def verify(session: Session) -> dict[str, Any]:
    """Recompute every chain; report the first break of each (a changed or missing event)."""
    broken: list[dict[str, Any]] = []
    count = 0
    heads = {h.chain: h for h in session.scalars(select(AuditChainHead))}
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
