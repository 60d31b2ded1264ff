"""monthly settlement between provinces: one row per settled period

Revision ID: 0010_settlement
Revises: 0004_stores
Create Date: 2026-11-26 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0010_settlement"
down_revision = "0011_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("settled_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("optimal", sa.Boolean(), nullable=False),
        sa.Column("transfer_count", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_settlements")),
    )


def downgrade() -> None:
    op.drop_table("settlements")
