"""Finding and locking lines."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import (
    Line,
)


def get_line(session: Session, msisdn: str) -> Line:
    line = session.scalars(select(Line).where(Line.msisdn == msisdn)).one_or_none()
    if line is None:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn}")
    return line


def lock_line(session: Session, msisdn: str) -> Line:
    """Row-lock the line for the rest of the transaction (SELECT ... FOR UPDATE on PostgreSQL;
    SQLite's BEGIN IMMEDIATE already holds the write lock). Re-reads the row, so what the
    caller sees is what was committed before the lock was granted."""
    stmt = (
        select(Line)
        .where(Line.msisdn == msisdn)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    line = session.scalars(stmt).one_or_none()
    if line is None:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn}")
    return line


def owner_line_ids(
    session: Session, owner_id: int, *, include_cancelled: bool = False
) -> list[int]:
    stmt = select(Line.id).where(Line.owner_id == owner_id)
    if not include_cancelled:
        stmt = stmt.where(Line.status != "cancelled")
    return list(session.scalars(stmt))
