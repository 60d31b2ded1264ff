"""Reading a line's snapshot for the check and the cancellation: one query in the common case.

The check is the hot path (≥1,000/s on two cores), so everything it needs about a line comes
back in one row: the line's columns, the owner's document type, and as correlated subqueries
the arrears (this line's and the owner's other lines'), the unbilled usage, the broadband
anchor, the family group, whether there are contracts or orders, and the usage history (as one
`seq:amount` string). Contracts and pending orders are read only for the few lines that have
any. The statement is plain Core compiled once per dialect (`kit.db.Prepared`): no ORM objects,
no cache key to compute per call.

The cancellation runs the same query by line id after locking the line, with two more columns:
the unbilled usage up to the record the quote counted, and the original payment route.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BigInteger, String, Table, and_, bindparam, cast, exists, func, select
from sqlalchemy.orm import Session

from xiaohu.billing.models import Bill, UsageHistory, UsageRecord
from xiaohu.cancellation import rules
from xiaohu.contracts.models import Contract
from xiaohu.contracts.rules import terms_of
from xiaohu.kit.db import Prepared
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import (
    Bundle,
    FamilyGroup,
    FamilyMember,
    Line,
    Owner,
    PaymentRoute,
    PendingOrder,
)


def _t(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _build(by: str, for_cancel: bool) -> Any:
    lines, owners, bills = _t(Line), _t(Owner), _t(Bill)
    usage, history = _t(UsageRecord), _t(UsageHistory)
    bundles, groups = _t(Bundle), _t(FamilyGroup)
    members = _t(FamilyMember)
    fm_self, fm_other = members.alias("fm_self"), members.alias("fm_other")
    other_line, owner_line = lines.alias("other_line"), lines.alias("owner_line")
    line_id = lines.c.id

    def scalar(stmt: Any) -> Any:
        return stmt.scalar_subquery()

    unpaid = bills.c.amount_fen - bills.c.paid_fen
    arrears = scalar(
        select(func.coalesce(func.sum(unpaid), 0)).where(
            bills.c.line_id == line_id, bills.c.status == "unpaid"
        )
    )
    # Driven from the owner's other lines (a handful, by ix_lines_owner_id), each summing its
    # own unpaid bills by (line_id, status): never a scan of every unpaid bill in the country.
    per_line = scalar(
        select(func.coalesce(func.sum(unpaid), 0)).where(
            bills.c.line_id == owner_line.c.id, bills.c.status == "unpaid"
        )
    )
    other_arrears = scalar(
        select(func.coalesce(func.sum(per_line), 0)).where(
            owner_line.c.owner_id == lines.c.owner_id, owner_line.c.id != line_id
        )
    )
    unbilled = and_(usage.c.line_id == line_id, usage.c.billed.is_(False))
    usage_sum = scalar(select(func.coalesce(func.sum(usage.c.amount_fen), 0)).where(unbilled))
    # Grouped, so PostgreSQL does not turn max() into a backward walk of the whole primary key
    # until it meets one of this line's records.
    usage_max = scalar(select(func.max(usage.c.id)).where(unbilled).group_by(usage.c.line_id))
    anchored = scalar(
        select(bundles.c.id)
        .where(bundles.c.anchor_line_id == line_id, bundles.c.status == "active")
        .order_by(bundles.c.id)
        .limit(1)
    )
    family_others = scalar(
        select(func.count())
        .select_from(fm_other.join(other_line, other_line.c.id == fm_other.c.line_id))
        .where(
            fm_other.c.group_id == fm_self.c.group_id,
            fm_other.c.line_id != line_id,
            other_line.c.status != "cancelled",
        )
    )
    group_active = exists().where(groups.c.id == fm_self.c.group_id, groups.c.status == "active")
    contracts, orders = _t(Contract), _t(PendingOrder)
    has_contracts = exists().where(contracts.c.line_id == line_id, contracts.c.status == "active")
    has_orders = exists().where(orders.c.line_id == line_id, orders.c.status == "open")
    # Every cycle of history as "seq:amount,...": order-free, sorted by seq in Python.
    item = cast(history.c.seq, String) + ":" + cast(history.c.amount_fen, String)
    usage_history = scalar(
        select(func.aggregate_strings(item, ",")).where(history.c.line_id == line_id)
    )
    columns = [
        line_id.label("id"),
        lines.c.msisdn,
        lines.c.province_code,
        lines.c.owner_id,
        lines.c.status,
        lines.c.real_name_verified,
        lines.c.cash_fen,
        lines.c.gift_fen,
        lines.c.plan_monthly_fee_fen,
        lines.c.opened_on,
        lines.c.bank_collection_pending,
        lines.c.version,
        owners.c.id_type,
        arrears.label("arrears"),
        other_arrears.label("other_arrears"),
        usage_sum.label("usage"),
        usage_max.label("usage_max"),
        anchored.label("bundle_id"),
        fm_self.c.group_id,
        fm_self.c.role.label("family_role"),
        family_others.label("family_others"),
        group_active.label("group_active"),
        has_contracts.label("has_contracts"),
        has_orders.label("has_orders"),
        usage_history.label("usage_history"),
    ]
    joined = lines.join(owners, owners.c.id == lines.c.owner_id).outerjoin(
        fm_self, fm_self.c.line_id == line_id
    )
    if for_cancel:
        routes = _t(PaymentRoute)
        quoted = scalar(
            select(func.coalesce(func.sum(usage.c.amount_fen), 0)).where(
                unbilled, usage.c.id <= bindparam("upto", 0, type_=BigInteger)
            )
        )
        columns += [
            quoted.label("usage_quoted"),
            routes.c.kind.label("route_kind"),
            routes.c.account.label("route_account"),
        ]
        joined = joined.outerjoin(routes, routes.c.line_id == line_id)
    key = lines.c.msisdn if by == "msisdn" else line_id
    # Placeholder values: Prepared renders post-compile parameters, which needs them.
    placeholder: str | int = "" if by == "msisdn" else 0
    # Typed as the column: an id past the 32-bit range (a node's id block) stays an id.
    return (
        select(*columns)
        .select_from(joined)
        .where(key == bindparam("key", placeholder, type_=key.type))
    )


_BY_MSISDN = Prepared(lambda: _build("msisdn", for_cancel=False))
_FOR_CANCEL = Prepared(lambda: _build("id", for_cancel=True))
_CONTRACTS = select(Contract).where(
    Contract.line_id == bindparam("line_id"), Contract.status == "active"
)
_ORDERS = Prepared(
    lambda: (
        select(_t(PendingOrder).c.order_ref, _t(PendingOrder).c.kind)
        .where(
            _t(PendingOrder).c.line_id
            == bindparam("line_id", 0, type_=_t(PendingOrder).c.line_id.type),
            _t(PendingOrder).c.status == "open",
        )
        .order_by(_t(PendingOrder).c.id)
    )
)


@dataclass(frozen=True)
class Loaded:
    """The snapshot, and what the service needs besides: the line's owner and the last unbilled
    usage record counted; for a cancellation, the original payment route."""

    snapshot: rules.LineSnapshot
    owner_id: int
    usage_max_id: int | None
    route_kind: str | None = None
    route_account: str | None = None


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))  # SQLite hands dates back as text


def _history(raw: str | None) -> tuple[int, ...]:
    """'2:1800,1:2100,3:2500' -> (2100, 1800, 2500): most recent cycle (seq 1) first."""
    if not raw:
        return ()
    pairs = sorted((int(s), int(a)) for s, _, a in (p.partition(":") for p in raw.split(",")))
    return tuple(a for _, a in pairs)


def _owing(session: Session, owner_id: int, line_id: int) -> tuple[rules.OwingLine, ...]:
    """The owner's other lines that owe, each with its unpaid total (read only when the
    snapshot's sum says some do: a handful of lines, by ix_lines_owner_id)."""
    unpaid = func.sum(Bill.amount_fen - Bill.paid_fen)
    rows = session.execute(
        select(Line.msisdn, Line.status, unpaid)
        .join(Bill, Bill.line_id == Line.id)
        .where(Line.owner_id == owner_id, Line.id != line_id, Bill.status == "unpaid")
        .group_by(Line.id, Line.msisdn, Line.status)
        .having(unpaid > 0)
        .order_by(Line.msisdn)
    ).all()
    return tuple(rules.OwingLine(m, status, int(fen)) for m, status, fen in rows)


def _snapshot(session: Session, row: Any, usage_fen: int) -> rules.LineSnapshot:
    line_id = int(row.id)
    other_arrears = int(row.other_arrears)
    contracts: list[Contract] = (
        list(session.scalars(_CONTRACTS, {"line_id": line_id})) if row.has_contracts else []
    )
    orders = _ORDERS.all(session, line_id=line_id) if row.has_orders else []
    in_group = row.group_id is not None and bool(row.group_active)
    return rules.LineSnapshot(
        line_id=line_id,
        msisdn=row.msisdn,
        province_code=row.province_code,
        status=row.status,
        real_name_verified=bool(row.real_name_verified),
        id_type=row.id_type,
        arrears_fen=int(row.arrears),
        other_lines_arrears_fen=other_arrears,
        cash_fen=int(row.cash_fen),
        gift_fen=int(row.gift_fen),
        plan_fee_fen=int(row.plan_monthly_fee_fen),
        unbilled_usage_fen=usage_fen,
        usage_history_fen=_history(row.usage_history),
        opened_on=_date(row.opened_on),
        contracts=tuple(
            rules.SnapshotContract(c.contract_ref, c.status, terms_of(c)) for c in contracts
        ),
        bundle_id=row.bundle_id,
        bundle_role="anchor" if row.bundle_id is not None else None,
        family_group_id=row.group_id if in_group else None,
        family_role=row.family_role if in_group else None,
        family_other_members=int(row.family_others or 0) if in_group else 0,
        pending_orders=tuple(rules.SnapshotOrder(ref, kind) for ref, kind in orders),
        bank_collection_pending=bool(row.bank_collection_pending),
        version=int(row.version),
        other_lines_owing=_owing(session, int(row.owner_id), line_id) if other_arrears else (),
    )


def load_by_msisdn(session: Session, msisdn: str) -> Loaded:
    """The check's read: the snapshot with every unbilled usage record counted."""
    row = _BY_MSISDN.first(session, key=msisdn)
    if row is None:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn}")
    usage_max = int(row.usage_max) if row.usage_max is not None else None
    return Loaded(_snapshot(session, row, int(row.usage)), int(row.owner_id), usage_max)


def load_for_cancel(session: Session, line_id: int, usage_upto: int) -> tuple[Loaded, Loaded]:
    """After the line is locked: the snapshot as the quote priced it (usage up to the record it
    counted) and as it stands now (every unbilled record), from one query."""
    row = _FOR_CANCEL.first(session, key=line_id, upto=usage_upto)
    if row is None:  # pragma: no cover - the caller holds the line's lock
        raise DomainError("LINE_NOT_FOUND", f"no line {line_id}")
    usage_max = int(row.usage_max) if row.usage_max is not None else None
    now = _snapshot(session, row, int(row.usage))
    quoted = replace(now, unbilled_usage_fen=int(row.usage_quoted))
    kw = {"route_kind": row.route_kind, "route_account": row.route_account}
    return (
        Loaded(quoted, int(row.owner_id), usage_upto or None, **kw),
        Loaded(now, int(row.owner_id), usage_max, **kw),
    )
