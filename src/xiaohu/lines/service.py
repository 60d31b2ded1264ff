"""Finding and locking lines; the read model of a line."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xiaohu.billing.models import Bill
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line


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


def arrears_fen(session: Session, line_ids: Iterable[int]) -> int:
    """Billed and unpaid, over the given lines."""
    ids = list(line_ids)
    if not ids:
        return 0
    total = session.scalar(
        select(func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0)).where(
            Bill.line_id.in_(ids), Bill.status == "unpaid"
        )
    )
    return int(total or 0)


def owner_line_ids(
    session: Session, owner_id: int, *, include_cancelled: bool = False
) -> list[int]:
    stmt = select(Line.id).where(Line.owner_id == owner_id)
    if not include_cancelled:
        stmt = stmt.where(Line.status != "cancelled")
    return list(session.scalars(stmt))
