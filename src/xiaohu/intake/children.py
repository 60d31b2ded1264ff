"""What hangs off an imported line: unpaid bills, unbilled usage, usage history, contracts,
pending orders and the payment route.

A re-imported line gets them replaced, except what the file cannot bring back (paid bills,
ended contracts, finished orders). Functions of one `BatchWriter` batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table, delete, select, update

from xiaohu.billing.models import Bill, UsageHistory, UsageRecord
from xiaohu.contracts.models import Contract
from xiaohu.lines.models import (
    Bundle,
    BundleMember,
    FamilyMember,
    PaymentRoute,
    PendingOrder,
)

if TYPE_CHECKING:
    from xiaohu.intake.batch import BatchWriter

_bills: Table = Bill.__table__  # type: ignore[assignment]
_usage: Table = UsageRecord.__table__  # type: ignore[assignment]
_history: Table = UsageHistory.__table__  # type: ignore[assignment]
_contracts: Table = Contract.__table__  # type: ignore[assignment]
_orders: Table = PendingOrder.__table__  # type: ignore[assignment]
_routes: Table = PaymentRoute.__table__  # type: ignore[assignment]
_bundles: Table = Bundle.__table__  # type: ignore[assignment]
_bundle_members: Table = BundleMember.__table__  # type: ignore[assignment]
_family_members: Table = FamilyMember.__table__  # type: ignore[assignment]


def clear_children(batch: BatchWriter, ids: list[int]) -> dict[int, int]:
    """Delete the replaceable rows of re-imported lines; return each line's outstanding
    receivable on the unpaid bills removed (to post only the difference)."""
    c = batch.imp.session.connection()
    referenced = select(_usage.c.bill_id).where(
        batch.among(_usage.c.line_id, ids), _usage.c.bill_id.is_not(None)
    )
    removable = (
        batch.among(_bills.c.line_id, ids),
        _bills.c.status == "unpaid",
        _bills.c.kind == "cycle",
        _bills.c.id.not_in(referenced),
    )
    before: dict[int, int] = {}
    for lid, outstanding in c.execute(
        select(_bills.c.line_id, _bills.c.amount_fen - _bills.c.paid_fen).where(*removable)
    ):
        before[lid] = before.get(lid, 0) + int(outstanding)
    c.execute(delete(_bills).where(*removable))
    c.execute(
        delete(_usage).where(
            batch.among(_usage.c.line_id, ids),
            _usage.c.source == "import",
            _usage.c.billed.is_(False),
        )
    )
    c.execute(delete(_history).where(batch.among(_history.c.line_id, ids)))
    c.execute(
        delete(_contracts).where(
            batch.among(_contracts.c.line_id, ids), _contracts.c.status == "active"
        )
    )
    c.execute(
        delete(_orders).where(batch.among(_orders.c.line_id, ids), _orders.c.status == "open")
    )
    c.execute(delete(_routes).where(batch.among(_routes.c.line_id, ids)))
    c.execute(delete(_bundle_members).where(batch.among(_bundle_members.c.line_id, ids)))
    c.execute(
        update(_bundles)
        .where(batch.among(_bundles.c.anchor_line_id, ids))
        .values(anchor_line_id=None, updated_at=batch.now)
    )
    c.execute(delete(_family_members).where(batch.among(_family_members.c.line_id, ids)))
    return before


def kept_rows(
    batch: BatchWriter, ids: list[int]
) -> tuple[set[tuple[int, str]], set[tuple[int, str]], set[tuple[int, str]]]:
    """Rows of re-imported lines that stay (paid bills, ended contracts, finished orders):
    the file cannot bring them back."""
    c = batch.imp.session.connection()
    periods = {
        (lid, p)
        for lid, p in c.execute(
            select(_bills.c.line_id, _bills.c.period).where(
                batch.among(_bills.c.line_id, ids), _bills.c.kind == "cycle"
            )
        )
    }
    contracts = {
        (lid, ref)
        for lid, ref in c.execute(
            select(_contracts.c.line_id, _contracts.c.contract_ref).where(
                batch.among(_contracts.c.line_id, ids)
            )
        )
    }
    orders = {
        (lid, ref)
        for lid, ref in c.execute(
            select(_orders.c.line_id, _orders.c.order_ref).where(
                batch.among(_orders.c.line_id, ids)
            )
        )
    }
    return periods, contracts, orders


def write_children(
    batch: BatchWriter,
    kept_periods: set[tuple[int, str]],
    kept_contracts: set[tuple[int, str]],
    kept_orders: set[tuple[int, str]],
) -> None:
    now, period = batch.now, batch.imp.period
    bills, usage, history, contracts, orders, routes = [], [], [], [], [], []
    for r, _, _ in batch.records:
        lid, p = batch.line_id[r.msisdn], r.province_code
        for b in r.unpaid_bills:
            if (lid, b.period) not in kept_periods:
                bills.append((lid, p, b.period, "cycle", b.amount_fen, 0, b.due_on, "unpaid", now))
        if r.usage_unbilled_fen:
            usage.append((lid, p, r.usage_unbilled_fen, "import", period, now, False))
        n = len(r.usage_history_fen)
        for i, amount in enumerate(r.usage_history_fen):
            history.append((lid, n - i, p, amount))
        for k in r.contracts:
            if (lid, k.ref) not in kept_contracts:
                contracts.append(
                    (
                        lid,
                        p,
                        k.ref,
                        k.kind,
                        k.starts_on,
                        k.ends_on,
                        k.handset_list_price_fen,
                        k.handset_promo_price_fen,
                        k.gift_prestore_remaining_fen,
                        k.monthly_minimum_fen,
                        "active",
                    )
                )
        for ref, kind in r.pending_orders:
            if (lid, ref) not in kept_orders:
                orders.append((lid, p, ref, kind, "open"))
        if r.payment_route:
            routes.append((lid, p, r.payment_route[0], r.payment_route[1]))
    batch.insert(
        _bills,
        (
            "line_id",
            "province_code",
            "period",
            "kind",
            "amount_fen",
            "paid_fen",
            "due_on",
            "status",
            "created_at",
        ),
        bills,
    )
    batch.insert(
        _usage,
        ("line_id", "province_code", "amount_fen", "source", "period", "occurred_at", "billed"),
        usage,
    )
    batch.insert(_history, ("line_id", "seq", "province_code", "amount_fen"), history)
    batch.insert(
        _contracts,
        (
            "line_id",
            "province_code",
            "contract_ref",
            "kind",
            "starts_on",
            "ends_on",
            "handset_list_price_fen",
            "handset_promo_price_fen",
            "gift_prestore_remaining_fen",
            "monthly_minimum_fen",
            "status",
        ),
        contracts,
    )
    batch.insert(_orders, ("line_id", "province_code", "order_ref", "kind", "status"), orders)
    batch.insert(_routes, ("line_id", "province_code", "kind", "account"), routes)
