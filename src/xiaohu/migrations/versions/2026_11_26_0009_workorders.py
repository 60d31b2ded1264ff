"""work orders: store cancellations the home province's back office decides

Revision ID: 0009_workorders
Revises: 0004_stores
Create Date: 2026-11-26 02:17:26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db
from sqlalchemy.dialects import postgresql

revision = "0009_workorders"
down_revision = "0010_settlement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cancellation_id", sa.String(length=32), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("home_province", sa.String(length=2), nullable=False),
        sa.Column("handling_province", sa.String(length=2), nullable=False),
        sa.Column("store_code", sa.String(length=32), nullable=False),
        sa.Column("staff_login", sa.String(length=40), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("opened_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("overdue_notified_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_work_orders_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("cancellation_id", name=op.f("uq_work_orders_cancellation_id")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_orders_home_status", ["home_province", "status", "due_at"], unique=False
        )
        batch_op.create_index("ix_work_orders_line_status", ["line_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_line_status")
        batch_op.drop_index("ix_work_orders_home_status")

    op.drop_table("work_orders")
