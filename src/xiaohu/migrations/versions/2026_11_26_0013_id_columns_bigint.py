"""ids kept in columns of other tables are 64-bit, as the ids themselves: a node's id block
(national deployment) starts past the 32-bit range

Revision ID: 0013_id_columns_bigint
Revises: 0012_lifecycle
Create Date: 2026-11-26 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_id_columns_bigint"
down_revision = "0012_lifecycle"
branch_labels = None
depends_on = None

# (table, column, nullable): a line's id on its former number, an outbox row's id on what the
# sandbox gateways recorded for it.
_COLUMNS = [
    ("numbers", "former_line_id", True),
    ("sandbox_sms", "outbox_id", False),
    ("sandbox_provisioning", "outbox_id", False),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's INTEGER is 64-bit already
    for table, column, nullable in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.Integer(),
            existing_type=sa.BigInteger(),
            existing_nullable=nullable,
        )
