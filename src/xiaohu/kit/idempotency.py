"""Idempotency keys for state-changing POSTs.

The record is inserted at the start of the unit of work, in the same transaction as the work.
A concurrent retry blocks on the unique key until the first commits, then replays its answer;
if the first rolled back or was refused (`release`), the retry does the work itself. Same key,
different body: an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaohu.kit.db import Base, BigId, JsonDoc, UTCDateTime
from xiaohu.kit.errors import DomainError


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


@dataclass
class Replay:
    status_code: int
    body: Any


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def claim(session: Session, scope: str, key: str, body: Any, now: dt.datetime) -> Replay | None:
    """Claim `key` for this request, or return the stored answer of the request that owns it."""
    if not key or len(key) > 200:
        raise DomainError("IDEMPOTENCY_KEY_INVALID", "Idempotency-Key must be 1-200 characters")
    digest = request_hash(body)
    existing = _find(session, scope, key)
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(scope=scope, key=key, request_hash=digest, created_at=now)
                )
        except IntegrityError:
            existing = _find(session, scope, key)
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise DomainError(
            "IDEMPOTENCY_KEY_REUSED", f"Idempotency-Key {key!r} was used for another request"
        )
    if existing.status_code is None:
        # Owned by a request in this very transaction that has not finished: a bug, not a retry.
        raise DomainError("CONFLICT", "the request with this Idempotency-Key is still running")
    return Replay(existing.status_code, existing.response)


def record(session: Session, scope: str, key: str, status_code: int, body: Any) -> None:
    rec = _find(session, scope, key)
    if rec is None:
        raise RuntimeError("record() without claim()")
    rec.status_code = status_code
    rec.response = body
    session.flush()


def release(session: Session, scope: str, key: str) -> None:
    """Give the key back after a refusal: the claim is deleted, so the next request with this
    key does the work afresh instead of replaying an answer that was never stored."""
    rec = _find(session, scope, key)
    if rec is not None and rec.status_code is None:
        session.delete(rec)
        session.flush()


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    ).one_or_none()
