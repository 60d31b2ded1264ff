"""The nested sections of an import record: unpaid bills, bundle, family group, contracts,
pending orders and payment route. Each reader checks one section (unknown fields, types,
duplicates within the record) and returns its typed value. Pure: no database, no clock.
"""

from __future__ import annotations

from xiaohu.contracts.models import CONTRACT_KINDS
from xiaohu.intake.field_rules import (
    RecordErrors,
    read_array,
    read_choice,
    read_date,
    read_fen,
    read_object,
    read_opt_fen,
    read_period,
    read_str,
)
from xiaohu.intake.record import BillRec, ContractRec
from xiaohu.lines.models import BundleRole, FamilyRole

BUNDLE_ROLES = tuple(BundleRole)
FAMILY_ROLES = tuple(FamilyRole)
PAYMENT_ROUTE_KINDS = ("alipay", "wechat", "bank_card", "unionpay", "cash")

_BILL_FIELDS = frozenset({"period", "amount_fen", "due_on"})
_BUNDLE_FIELDS = frozenset({"id", "broadband_account", "role"})
_FAMILY_FIELDS = frozenset({"group_id", "role"})
_ORDER_FIELDS = frozenset({"id", "kind"})
_ROUTE_FIELDS = frozenset({"kind", "account"})
_CONTRACT_FIELDS = frozenset(
    {
        "id",
        "kind",
        "starts_on",
        "ends_on",
        "handset_list_price_fen",
        "handset_promo_price_fen",
        "gift_prestore_remaining_fen",
        "monthly_minimum_fen",
    }
)
_CONTRACT_FEN = (
    "handset_list_price_fen",
    "handset_promo_price_fen",
    "gift_prestore_remaining_fen",
    "monthly_minimum_fen",
)


def read_bills(e: RecordErrors, raw: object) -> list[BillRec]:
    out: list[BillRec] = []
    seen: set[str] = set()
    for i, item in enumerate(read_array(e, raw, "unpaid_bills")):
        path = f"unpaid_bills[{i}]"
        bill = read_object(e, item, path, _BILL_FIELDS)
        if bill is None:
            continue
        period = read_period(e, bill.get("period"), f"{path}.period")
        if bill.get("amount_fen") is None:
            e.add(f"{path}.amount_fen", "required")
            amount = 0
        else:
            amount = read_fen(e, bill["amount_fen"], f"{path}.amount_fen")
        due_on = read_date(e, bill, "due_on", f"{path}.due_on")
        if period is not None:
            if period in seen:
                e.add(f"{path}.period", f"period {period} is listed twice")
            seen.add(period)
            out.append(BillRec(period, amount, due_on))
    return out


def read_bundle(e: RecordErrors, raw: object) -> tuple[str, str | None, str] | None:
    if raw is None:
        return None
    bundle = read_object(e, raw, "bundle", _BUNDLE_FIELDS)
    if bundle is None:
        return None
    ref = read_str(e, bundle, "id", "bundle.id", max_len=40, required=True)
    account = read_str(
        e, bundle, "broadband_account", "bundle.broadband_account", max_len=40, required=False
    )
    role = read_choice(e, bundle, "role", "bundle.role", BUNDLE_ROLES, "bundle role")
    if ref is None or role is None:
        return None
    return ref, account, role


def read_family(e: RecordErrors, raw: object) -> tuple[str, str] | None:
    if raw is None:
        return None
    family = read_object(e, raw, "family", _FAMILY_FIELDS)
    if family is None:
        return None
    ref = read_str(e, family, "group_id", "family.group_id", max_len=40, required=True)
    role = read_choice(e, family, "role", "family.role", FAMILY_ROLES, "family role")
    if ref is None or role is None:
        return None
    return ref, role


def read_contracts(e: RecordErrors, raw: object) -> list[ContractRec]:
    out: list[ContractRec] = []
    seen: set[str] = set()
    for i, item in enumerate(read_array(e, raw, "contracts")):
        path = f"contracts[{i}]"
        c = read_object(e, item, path, _CONTRACT_FIELDS)
        if c is None:
            continue
        ref = read_str(e, c, "id", f"{path}.id", max_len=40, required=True)
        kind = read_choice(e, c, "kind", f"{path}.kind", CONTRACT_KINDS, "contract kind")
        starts = read_date(e, c, "starts_on", f"{path}.starts_on")
        ends = read_date(e, c, "ends_on", f"{path}.ends_on")
        if starts and ends and ends < starts:
            e.add(f"{path}.ends_on", "is before starts_on")
        amounts = [read_opt_fen(e, c, k, f"{path}.{k}") for k in _CONTRACT_FEN]
        if ref is not None and ref in seen:
            e.add(f"{path}.id", f"contract {ref} is listed twice")
        if ref is None or kind is None:
            continue
        seen.add(ref)
        out.append(ContractRec(ref, kind, starts, ends, *amounts))
    return out


def read_orders(e: RecordErrors, raw: object) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(read_array(e, raw, "pending_orders")):
        path = f"pending_orders[{i}]"
        o = read_object(e, item, path, _ORDER_FIELDS)
        if o is None:
            continue
        ref = read_str(e, o, "id", f"{path}.id", max_len=40, required=True)
        kind = read_str(e, o, "kind", f"{path}.kind", max_len=40, required=True)
        if ref is not None and ref in seen:
            e.add(f"{path}.id", f"order {ref} is listed twice")
        if ref is not None and kind is not None:
            seen.add(ref)
            out.append((ref, kind))
    return out


def read_route(e: RecordErrors, raw: object) -> tuple[str, str | None] | None:
    if raw is None:
        return None
    route = read_object(e, raw, "payment_route", _ROUTE_FIELDS)
    if route is None:
        return None
    kind = read_choice(e, route, "kind", "payment_route.kind", PAYMENT_ROUTE_KINDS, "route kind")
    account = read_str(e, route, "account", "payment_route.account", max_len=100, required=False)
    return (kind, account) if kind is not None else None
