"""sign-in: real-name mismatches counted per line

Revision ID: 0003_signin
Revises: 0002_outbox
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0003_signin"
down_revision = "0002_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sign_in_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("real_name_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "real_name_window_until",
                xiaohu.kit.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_states", schema=None) as batch_op:
        batch_op.drop_column("real_name_window_until")
        batch_op.drop_column("real_name_failures")
