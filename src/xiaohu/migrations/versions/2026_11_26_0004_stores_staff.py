"""stores and staff; who handled a cancellation, a payment, a refusal (and its notice reference)

Revision ID: 0004_stores
Revises: 0003_signin
Create Date: 2026-11-26 01:25:03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0004_stores"
down_revision = "0003_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("city", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_stores")),
    )
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.create_index("ix_stores_province_city", ["province_code", "city"], unique=False)

    op.create_table(
        "staff",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("login", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("store_code", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_code"], ["stores.code"], name=op.f("fk_staff_store_code_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("login", name=op.f("uq_staff_login")),
    )
    with op.batch_alter_table("cancellation_refusals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("store_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("staff_login", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("blockers", xiaohu.kit.db.JsonDoc, nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_cancellation_refusals_reference"), ["reference"]
        )
    # Refusals logged before notices had references get one from their id, so every refusal
    # has a notice a subscriber can download.
    op.execute(
        "UPDATE cancellation_refusals SET reference = 'RF-' || CAST(id AS VARCHAR(20)) "
        "WHERE reference IS NULL"
    )

    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("staff_login", sa.String(length=40), nullable=True))

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("method", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("staff_login", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("staff_login")
        batch_op.drop_column("method")
        batch_op.drop_column("store_code")

    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_column("staff_login")
        batch_op.drop_column("store_code")

    with op.batch_alter_table("cancellation_refusals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_cancellation_refusals_reference"), type_="unique")
        batch_op.drop_column("blockers")
        batch_op.drop_column("staff_login")
        batch_op.drop_column("store_code")
        batch_op.drop_column("reference")

    op.drop_table("staff")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_index("ix_stores_province_city")

    op.drop_table("stores")
