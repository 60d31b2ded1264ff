"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 04:32:33.601715
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xiaohu.kit.db
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain_heads")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_audit_events_chain_seq")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_subject", ["subject"], unique=False)

    op.create_table(
        "family_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_groups")),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_records_scope_key")),
    )
    op.create_table(
        "journal_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("posted_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_transactions")),
    )
    with op.batch_alter_table("journal_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_transactions_ref"), ["ref"], unique=False)

    op.create_table(
        "ledger_accounts",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "numbers",
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("former_line_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quarantined_until", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_numbers")),
    )
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_numbers_status_quarantined_until", ["status", "quarantined_until"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_delivered_at_id", ["delivered_at", "id"], unique=False)

    op.create_table(
        "owners",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_type", sa.String(length=32), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("id_cipher", sa.LargeBinary(), nullable=False),
        sa.Column("id_masked", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owners")),
        sa.UniqueConstraint("id_type", "id_index", name=op.f("uq_owners_id_type_id_index")),
    )
    op.create_table(
        "sandbox_clock",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("now", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sandbox_clock")),
    )
    op.create_table(
        "sandbox_provisioning",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_provisioning")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_sandbox_provisioning_outbox_id")),
    )
    with op.batch_alter_table("sandbox_provisioning", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sandbox_provisioning_msisdn"), ["msisdn"], unique=False
        )

    op.create_table(
        "sandbox_sms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=11), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sent_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_sms")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_sandbox_sms_outbox_id")),
    )
    with op.batch_alter_table("sandbox_sms", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_sms_to_id", ["to", "id"], unique=False)

    op.create_table(
        "lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=True),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        sa.Column("status_changed_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("real_name_verified", sa.Boolean(), nullable=False),
        sa.Column("plan_code", sa.String(length=40), nullable=False),
        sa.Column("plan_name", sa.String(length=100), nullable=False),
        sa.Column("plan_monthly_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("gift_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_password_hash", sa.String(length=200), nullable=True),
        sa.Column("bank_collection_pending", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_lines_owner_id_owners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lines")),
        sa.UniqueConstraint("msisdn", name=op.f("uq_lines_msisdn")),
    )
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.create_index("ix_lines_owner_id", ["owner_id"], unique=False)

    op.create_table(
        "bills",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_bills_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("line_id", "period", "kind", name=op.f("uq_bills_line_id_period_kind")),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index("ix_bills_line_id_status", ["line_id", "status"], unique=False)

    op.create_table(
        "bundles",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("broadband_account", sa.String(length=40), nullable=True),
        sa.Column(
            "anchor_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["anchor_line_id"], ["lines.id"], name=op.f("fk_bundles_anchor_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
    )
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.create_index("ix_bundles_anchor_line_id", ["anchor_line_id"], unique=False)

    op.create_table(
        "cancellation_refusals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(
            "codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_cancellation_refusals_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellation_refusals")),
    )
    with op.batch_alter_table("cancellation_refusals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancellation_refusals_line_id"), ["line_id"], unique=False
        )

    op.create_table(
        "cancellations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("handling_province_code", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account_status", sa.String(length=16), nullable=False),
        sa.Column("quote_id", sa.String(length=100), nullable=True),
        sa.Column("cancelled_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undo_until", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "final_charges",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("charges_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_now_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserve_fen", sa.BigInteger(), nullable=False),
        sa.Column("forfeited_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "route",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("previous_status", sa.String(length=24), nullable=True),
        sa.Column("gift_applied_fen", sa.BigInteger(), nullable=True),
        sa.Column("shortfall_fen", sa.BigInteger(), nullable=True),
        sa.Column("late_usage_fen", sa.BigInteger(), nullable=True),
        sa.Column("trued_up_fen", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_cancellations_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
        sa.UniqueConstraint("reference", name=op.f("uq_cancellations_reference")),
    )
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cancellations_line_id_status", ["line_id", "status"], unique=False
        )

    op.create_table(
        "contracts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("contract_ref", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("handset_list_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("handset_promo_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("gift_prestore_remaining_fen", sa.BigInteger(), nullable=False),
        sa.Column("monthly_minimum_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=True),
        sa.Column("terminated_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_contracts_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint(
            "line_id", "contract_ref", name=op.f("uq_contracts_line_id_contract_ref")
        ),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contracts_line_id"), ["line_id"], unique=False)

    op.create_table(
        "family_members",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["family_groups.id"],
            name=op.f("fk_family_members_group_id_family_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_family_members_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_family_members")),
    )
    with op.batch_alter_table("family_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_members_group_id"), ["group_id"], unique=False)

    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("account_code", sa.String(length=60), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("debit_fen", sa.BigInteger(), nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(debit_fen >= 0 AND credit_fen >= 0) AND (debit_fen = 0 OR credit_fen = 0)",
            name=op.f("ck_journal_entries_one_side"),
        ),
        sa.ForeignKeyConstraint(
            ["account_code"],
            ["ledger_accounts.code"],
            name=op.f("fk_journal_entries_account_code_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_journal_entries_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["journal_transactions.id"],
            name=op.f("fk_journal_entries_transaction_id_journal_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_entries_line_id_account_code", ["line_id", "account_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_journal_entries_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "payment_routes",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_payment_routes_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_payment_routes")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("gateway", sa.String(length=24), nullable=False),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "applied",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_payments_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_line_id"), ["line_id"], unique=False)

    op.create_table(
        "pending_orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("order_ref", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_pending_orders_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_orders")),
        sa.UniqueConstraint(
            "line_id", "order_ref", name=op.f("uq_pending_orders_line_id_order_ref")
        ),
    )
    op.create_table(
        "sign_in_states",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("otp_hash", sa.String(length=64), nullable=True),
        sa.Column("otp_sent_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("otp_expires_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_sign_in_states_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_sign_in_states")),
    )
    op.create_table(
        "usage_history",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_usage_history_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", "seq", name=op.f("pk_usage_history")),
    )
    op.create_table(
        "bundle_members",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bundle_id", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_bundle_members_bundle_id_bundles")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_bundle_members_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_bundle_members")),
    )
    with op.batch_alter_table("bundle_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bundle_members_bundle_id"), ["bundle_id"], unique=False
        )

    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("cancellation_id", sa.String(length=32), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "route",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_refunds_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_refunds_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint(
            "cancellation_id", "kind", name=op.f("uq_refunds_cancellation_id_kind")
        ),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_line_id"), ["line_id"], unique=False)

    op.create_table(
        "usage_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("occurred_at", xiaohu.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("billed", sa.Boolean(), nullable=False),
        sa.Column("bill_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_usage_records_bill_id_bills")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_usage_records_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_records_line_id_billed", ["line_id", "billed"], unique=False
        )

    _audit_append_only()
    _seed_chart_of_accounts()


# The chart of accounts as it was when this revision was written (ledger/rules.py ACCOUNTS ×
# the 31 provinces, plus the national accounts), frozen here as data: every account exists
# before the first posting, so two first postings never race to create one.
_PROVINCE_CODES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65",
)  # fmt: skip
_PROVINCIAL_ACCOUNTS = {
    "subscriber_cash": ("liability", "Subscriber cash balances (refundable)"),
    "subscriber_gift": ("liability", "Subscriber gift credit (promotional)"),
    "receivables": ("asset", "Billed, unpaid subscriber charges"),
    "revenue": ("revenue", "Service revenue: plan fees, usage, penalties"),
    "gift_promotion": ("expense", "Gift credit granted by promotions"),
    "gift_forfeited": ("revenue", "Gift credit forfeited at cancellation"),
    "opening_balances": ("equity", "Balances carried over from the previous system"),
    "store_cash": ("asset", "Store cash drawers"),
}
_NATIONAL_ACCOUNTS = {
    "gateway_clearing": ("asset", "Payment gateway clearing (money in transit)"),
}


def _seed_chart_of_accounts() -> None:
    accounts = sa.table(
        "ledger_accounts",
        sa.column("code", sa.String),
        sa.column("type", sa.String),
        sa.column("name", sa.String),
        sa.column("province_code", sa.String),
    )
    rows: list[dict[str, str | None]] = [
        {"code": f"{stem}:{p}", "type": kind, "name": f"{name} [{p}]", "province_code": p}
        for stem, (kind, name) in _PROVINCIAL_ACCOUNTS.items()
        for p in _PROVINCE_CODES
    ]
    rows += [
        {"code": code, "type": kind, "name": name, "province_code": None}
        for code, (kind, name) in _NATIONAL_ACCOUNTS.items()
    ]
    op.bulk_insert(accounts, rows)


def _audit_append_only() -> None:
    """The audit log refuses UPDATE and DELETE in the database itself, not just in code."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_records_line_id_billed")

    op.drop_table("usage_records")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_line_id"))

    op.drop_table("refunds")
    with op.batch_alter_table("bundle_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_members_bundle_id"))

    op.drop_table("bundle_members")
    op.drop_table("usage_history")
    op.drop_table("sign_in_states")
    op.drop_table("pending_orders")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_line_id"))

    op.drop_table("payments")
    op.drop_table("payment_routes")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_transaction_id"))
        batch_op.drop_index("ix_journal_entries_line_id_account_code")

    op.drop_table("journal_entries")
    with op.batch_alter_table("family_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_members_group_id"))

    op.drop_table("family_members")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_line_id"))

    op.drop_table("contracts")
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_index("ix_cancellations_line_id_status")

    op.drop_table("cancellations")
    with op.batch_alter_table("cancellation_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellation_refusals_line_id"))

    op.drop_table("cancellation_refusals")
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.drop_index("ix_bundles_anchor_line_id")

    op.drop_table("bundles")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index("ix_bills_line_id_status")

    op.drop_table("bills")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_index("ix_lines_owner_id")

    op.drop_table("lines")
    with op.batch_alter_table("sandbox_sms", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_sms_to_id")

    op.drop_table("sandbox_sms")
    with op.batch_alter_table("sandbox_provisioning", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_provisioning_msisdn"))

    op.drop_table("sandbox_provisioning")
    op.drop_table("sandbox_clock")
    op.drop_table("owners")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_delivered_at_id")

    op.drop_table("outbox")
    with op.batch_alter_table("numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_numbers_status_quarantined_until")

    op.drop_table("numbers")
    op.drop_table("ledger_accounts")
    with op.batch_alter_table("journal_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_transactions_ref"))

    op.drop_table("journal_transactions")
    op.drop_table("idempotency_records")
    op.drop_table("family_groups")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")

    op.drop_table("audit_events")
    op.drop_table("audit_chain_heads")
