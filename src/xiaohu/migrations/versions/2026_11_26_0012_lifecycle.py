"""the lifecycle: arrears clock and retention on lines, job locks and runs, cancellation
warnings, platforms and their keys, reclaimed numbers

Revision ID: 0012_lifecycle
Revises: 0009_workorders
Create Date: 2026-11-26 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xiaohu.kit.db

revision = "0012_lifecycle"
down_revision = "0009_workorders"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = xiaohu.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arrears_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retained_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retention_starts_on", sa.Date(), nullable=True))
        batch_op.create_index(
            "ix_lines_status_arrears_since", ["status", "arrears_since"], unique=False
        )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=10), type_=sa.String(length=12)
        )
        batch_op.create_index("ix_bills_status_due_on", ["status", "due_on"], unique=False)
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reclaimed_at", _AT, nullable=True))
        batch_op.create_index(
            "ix_cancellations_msisdn_cancelled_at", ["msisdn", "cancelled_at"], unique=False
        )
    op.create_table(
        "job_locks",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=True),
        sa.Column("until", _AT, nullable=True),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_locks")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("cursor", sa.String(length=100), nullable=True),
        sa.Column("report", _JSON, nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "key", name=op.f("uq_job_runs_job_key")),
    )
    op.create_table(
        "lifecycle_warnings",
        sa.Column("line_id", _ID, nullable=False),
        sa.Column("arrears_since", sa.Date(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("cancel_on", sa.Date(), nullable=False),
        sa.Column("sent_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_lifecycle_warnings_line_id_lines")
        ),
        sa.PrimaryKeyConstraint(
            "line_id", "arrears_since", "days_before", name=op.f("pk_lifecycle_warnings")
        ),
    )
    op.create_table(
        "platforms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_index", sa.String(length=64), nullable=False),
        sa.Column("key_hint", sa.String(length=16), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("key_index", name=op.f("uq_platforms_key_index")),
        sa.UniqueConstraint("name", name=op.f("uq_platforms_name")),
    )


def downgrade() -> None:
    op.drop_table("platforms")
    op.drop_table("lifecycle_warnings")
    op.drop_table("job_runs")
    op.drop_table("job_locks")
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_index("ix_cancellations_msisdn_cancelled_at")
        batch_op.drop_column("reclaimed_at")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index("ix_bills_status_due_on")
        batch_op.alter_column(
            "status", existing_type=sa.String(length=12), type_=sa.String(length=10)
        )
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_index("ix_lines_status_arrears_since")
        batch_op.drop_column("retention_starts_on")
        batch_op.drop_column("retained_on")
        batch_op.drop_column("arrears_since")
