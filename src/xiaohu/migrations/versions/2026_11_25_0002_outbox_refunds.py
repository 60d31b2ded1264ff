"""outbox backoff and dead letters; refunds pending until the gateway pays them

Revision ID: 0002_outbox
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0002_outbox"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen as data, like the first revision's chart: the province codes of GB/T 2260.
_PROVINCE_CODES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65",
)  # fmt: skip
_PAYABLE = ("refunds_payable", "liability", "Refunds owed, not yet confirmed paid out")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=12), nullable=False, server_default="pending")
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("ix_outbox_delivered_at_id")
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
    op.execute("UPDATE outbox SET status = 'delivered' WHERE delivered_at IS NOT NULL")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declines", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("gateway_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("paid_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_refunds_status"), ["status"], unique=False)

    accounts = sa.table(
        "ledger_accounts",
        sa.column("code", sa.String),
        sa.column("type", sa.String),
        sa.column("name", sa.String),
        sa.column("province_code", sa.String),
    )
    stem, kind, name = _PAYABLE
    op.bulk_insert(
        accounts,
        [
            {"code": f"{stem}:{p}", "type": kind, "name": f"{name} [{p}]", "province_code": p}
            for p in _PROVINCE_CODES
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM ledger_accounts WHERE code LIKE 'refunds_payable:%'")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_status"))
        batch_op.drop_column("paid_at")
        batch_op.drop_column("gateway_ref")
        batch_op.drop_column("last_error")
        batch_op.drop_column("declines")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.create_index("ix_outbox_delivered_at_id", ["delivered_at", "id"], unique=False)
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("status")
