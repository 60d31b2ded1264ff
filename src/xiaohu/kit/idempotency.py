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

from sqlalchemy import String, Table, UniqueConstraint, delete, select, update
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
    """Claim `key` for this request, or return the stored answer of the request that owns it.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING id`; only when the key is taken, a SELECT
    (which, after a concurrent first request, runs once that request has committed)."""
    if not key or len(key) > 200:
        raise DomainError("IDEMPOTENCY_KEY_INVALID", "Idempotency-Key must be 1-200 characters")
    digest = request_hash(body)
    for _ in range(3):  # a key released between our INSERT and SELECT is claimed again
        claimed = session.execute(
            _claim_statement(session),
            {"scope": scope, "key": key, "request_hash": digest, "created_at": now},
        ).scalar()
        if claimed is not None:
            session.info[(_CLAIMS, scope, key)] = claimed
            return None
        existing = session.execute(
            select(_T.c.request_hash, _T.c.status_code, _T.c.response).where(
                _T.c.scope == scope, _T.c.key == key
            )
        ).one_or_none()
        if existing is not None:
            break
    else:
        raise DomainError("CONFLICT", "the request with this Idempotency-Key is still running")
    if existing.request_hash != digest:
        raise DomainError(
            "IDEMPOTENCY_KEY_REUSED", f"Idempotency-Key {key!r} was used for another request"
        )
    if existing.status_code is None:
        # Owned by a request in this very transaction that has not finished: a bug, not a retry.
        raise DomainError("CONFLICT", "the request with this Idempotency-Key is still running")
    return Replay(existing.status_code, existing.response)


def record(session: Session, scope: str, key: str, status_code: int, body: Any) -> None:
    """Store the answer on the claimed record: one UPDATE by id."""
    claimed = session.info.pop((_CLAIMS, scope, key), None)
    if claimed is None:
        raise RuntimeError("record() without claim()")
    session.execute(
        update(_T).where(_T.c.id == claimed).values(status_code=status_code, response=body)
    )


def release(session: Session, scope: str, key: str) -> None:
    """Give the key back after a refusal: the claim is deleted, so the next request with this
    key does the work afresh instead of replaying an answer that was never stored."""
    claimed = session.info.pop((_CLAIMS, scope, key), None)
    if claimed is not None:
        session.execute(delete(_T).where(_T.c.id == claimed, _T.c.status_code.is_(None)))


_T: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
_CLAIMS = "xiaohu_idempotency_claim"
_CLAIM_STATEMENTS: dict[str, Any] = {}


def _claim_statement(session: Session) -> Any:
    """`INSERT ... ON CONFLICT (scope, key) DO NOTHING RETURNING id`, built once a dialect."""
    dialect = session.get_bind().dialect.name
    stmt = _CLAIM_STATEMENTS.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(_T).on_conflict_do_nothing(index_elements=["scope", "key"]).returning(_T.c.id)
        _CLAIM_STATEMENTS[dialect] = stmt
    return stmt
