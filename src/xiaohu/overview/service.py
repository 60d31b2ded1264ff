"""The line at a glance, as its subscriber sees it: plan, balances, arrears, contracts, what
hangs off it, and the audit trail about it. A read model over several areas (lines, billing,
contracts, retention, audit), so it sits above them."""

from __future__ import annotations

from sqlalchemy import select

from xiaohu.audit.models import AuditEvent
from xiaohu.billing.service import arrears_fen
from xiaohu.contracts.models import Contract
from xiaohu.identity.rules import mask_name
from xiaohu.kit.errors import InvariantViolated
from xiaohu.lines.models import Bundle, BundleMember, FamilyMember, Owner, PendingOrder
from xiaohu.lines.service import get_line
from xiaohu.overview.schemas import (
    AuditEventOut,
    BalanceOut,
    BundleOut,
    ContractOut,
    FamilyOut,
    HomeOut,
    LineView,
    OwnerOut,
    PendingOrderOut,
    PlanOut,
)
from xiaohu.regions.provinces import PROVINCES
from xiaohu.retention.service import retention_view
from xiaohu.runtime import Context
from xiaohu.staff.rules import actor_kind


def line_view(ctx: Context, msisdn: str) -> LineView:
    """The subscriber's view of one line: balances, arrears and what holds it, owner masked."""
    session = ctx.session
    line = get_line(session, msisdn)
    owner = session.get(Owner, line.owner_id)
    if owner is None:  # a foreign key guarantees it
        raise InvariantViolated(f"line {line.id} has no owner {line.owner_id}")
    province = PROVINCES.get(line.province_code)
    contracts = session.scalars(
        select(Contract).where(Contract.line_id == line.id).order_by(Contract.id)
    )
    member = session.get(BundleMember, line.id)
    bundle = session.get(Bundle, member.bundle_id) if member is not None else None
    family = session.get(FamilyMember, line.id)
    orders = session.scalars(
        select(PendingOrder)
        .where(PendingOrder.line_id == line.id, PendingOrder.status == "open")
        .order_by(PendingOrder.id)
    )
    return LineView(
        msisdn=line.msisdn,
        status=line.status,
        status_reason=line.status_reason,
        home=HomeOut(
            province_code=line.province_code,
            province=province.short if province else line.province_code,
            city=line.city,
        ),
        plan=PlanOut(
            code=line.plan_code, name=line.plan_name, monthly_fee_fen=line.plan_monthly_fee_fen
        ),
        balance=BalanceOut(cash_fen=line.cash_fen, gift_fen=line.gift_fen),
        owner=OwnerOut(
            name_masked=mask_name(owner.name),
            id_number_masked=owner.id_masked,
            id_type=owner.id_type,
        ),
        arrears_fen=arrears_fen(session, [line.id]),
        opened_on=line.opened_on,
        real_name_verified=line.real_name_verified,
        contracts=[
            ContractOut(
                id=c.contract_ref,
                kind=c.kind,
                starts_on=c.starts_on,
                ends_on=c.ends_on,
                status=c.status,
            )
            for c in contracts
        ],
        bundle=(
            BundleOut(id=member.bundle_id, role=member.role, status=bundle.status)
            if member is not None and bundle is not None
            else None
        ),
        family=FamilyOut(group_id=family.group_id, role=family.role) if family else None,
        pending_orders=[PendingOrderOut(id=o.order_ref, kind=o.kind) for o in orders],
        bank_collection_pending=line.bank_collection_pending,
        arrears_since=line.arrears_since,
        retention=retention_view(ctx, line),
    )


def line_audit(ctx: Context, msisdn: str, limit: int = 500) -> list[AuditEventOut]:
    """The audit events about this line, oldest first: the subscriber's evidence (every
    refusal and state change is there with its codes)."""
    get_line(ctx.session, msisdn)
    events = ctx.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject == f"line:{msisdn}")
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
        .limit(limit)
    )
    out = []
    for e in events:
        kind, login = actor_kind(e.actor)
        out.append(
            AuditEventOut(
                action=e.action,
                occurred_at=e.occurred_at,
                actor=e.actor,
                actor_kind=kind,
                staff_login=login,
                data=e.data,
            )
        )
    return out
