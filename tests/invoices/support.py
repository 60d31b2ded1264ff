"""Helpers of the invoice tests: a line's invoices, read from the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.invoices.models import Invoice


def invoices_of(session: Session, line_id: int, kind: str | None = None) -> list[Invoice]:
    """The line's invoices in the order they were issued."""
    query = select(Invoice).where(Invoice.line_id == line_id).order_by(Invoice.number)
    if kind is not None:
        query = query.where(Invoice.kind == kind)
    return list(session.scalars(query.execution_options(populate_existing=True)))
