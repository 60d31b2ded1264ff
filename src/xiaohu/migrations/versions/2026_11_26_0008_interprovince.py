"""interprovince: the messages each province has applied

Revision ID: 0008_interprovince
Revises: 0004_stores
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0008_interprovince"
down_revision = "0004_stores"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interprovince_applied",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("from_province", sa.String(length=2), nullable=True),
        sa.Column("to_province", sa.String(length=2), nullable=False),
        sa.Column("sent_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_interprovince_applied")),
    )
    with op.batch_alter_table("interprovince_applied", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interprovince_applied_to_province"), ["to_province"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("interprovince_applied", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interprovince_applied_to_province"))
    op.drop_table("interprovince_applied")
