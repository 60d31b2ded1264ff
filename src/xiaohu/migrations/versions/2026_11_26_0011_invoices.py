"""invoices (电子发票) and their per-province, per-year counters

Revision ID: 0011_invoices
Revises: 0004_stores
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db

revision = "0011_invoices"
down_revision = "0008_interprovince"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_counters",
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("province_code", "year", name=op.f("pk_invoice_counters")),
    )
    op.create_table(
        "invoices",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("item", sa.String(length=16), nullable=False),
        sa.Column("original_number", sa.String(length=20), nullable=True),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("issued_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_invoices_line_id_lines")),
        sa.ForeignKeyConstraint(
            ["original_number"],
            ["invoices.number"],
            name=op.f("fk_invoices_original_number_invoices"),
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_invoices")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_invoices_payment_id")),
        sa.UniqueConstraint(
            "province_code", "year", "seq", name=op.f("uq_invoices_province_code_year_seq")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_line_id_kind", ["line_id", "kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invoices_original_number"), ["original_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invoices_ref"), ["ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_ref"))
        batch_op.drop_index(batch_op.f("ix_invoices_original_number"))
        batch_op.drop_index("ix_invoices_line_id_kind")
    op.drop_table("invoices")
    op.drop_table("invoice_counters")
