"""The numbers of the imported demo data worth trying, with what each one shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.orm import Session

from xiaohu.demo.data import DEMO_PASSWORD


@dataclass(frozen=True)
class DemoNumber:
    shows: str  # what trying this number demonstrates
    msisdn: str
    province_code: str
    status: str
    owner_id_type: str
    password_ok: bool  # the line's service password is DEMO_PASSWORD


def find_demo_numbers(session: Session, today: dt.date, key: bytes) -> list[DemoNumber]:
    """One imported line per situation worth showing, the first found of each (by id)."""
    from sqlalchemy import and_, exists, not_, select

    from xiaohu.billing.models import Bill
    from xiaohu.contracts.models import Contract
    from xiaohu.identity.passwords import verify
    from xiaohu.lines.models import BundleMember, FamilyMember, Line, Owner, PendingOrder

    unpaid = exists().where(Bill.line_id == Line.id, Bill.status == "unpaid")
    contract = exists().where(Contract.line_id == Line.id, Contract.status == "active")
    bundled = exists().where(BundleMember.line_id == Line.id)
    family = exists().where(FamilyMember.line_id == Line.id)
    ordered = exists().where(PendingOrder.line_id == Line.id, PendingOrder.status == "open")
    resident = Owner.id_type == "resident_id"
    active = Line.status == "active"
    plain = and_(
        active,
        resident,
        Line.real_name_verified.is_(True),
        Line.bank_collection_pending.is_(False),
        not_(unpaid),
        not_(contract),
        not_(bundled),
        not_(family),
        not_(ordered),
    )
    other = exists().where(
        FamilyMember.group_id
        == select(FamilyMember.group_id).where(FamilyMember.line_id == Line.id).scalar_subquery(),
        FamilyMember.role == "member",
    )
    second = (
        select(func.count())
        .select_from(Line.__table__.alias("l2"))
        .where(text("l2.owner_id = lines.owner_id"), text("l2.status != 'cancelled'"))
        .scalar_subquery()
    )
    wanted: list[tuple[str, Any]] = [
        (
            "clean line: cancel online in a minute, cash refunded at once",
            and_(plain, Line.cash_fen > 0, Line.gift_fen == 0),
        ),
        ("gift credit: refund of cash, gift forfeited (warning)", and_(plain, Line.gift_fen > 0)),
        ("arrears: pay online, then cancel", and_(active, resident, unpaid, not_(contract))),
        ("arrears suspension (欠费停机)", Line.status == "arrears_suspended"),
        (
            "handset contract in term: penalty or wait",
            and_(
                active,
                resident,
                exists().where(
                    Contract.line_id == Line.id,
                    Contract.kind == "handset",
                    Contract.status == "active",
                    Contract.ends_on > today,
                ),
            ),
        ),
        (
            "premium number, lifetime minimum spend: complaint route",
            exists().where(
                Contract.line_id == Line.id,
                Contract.kind == "premium_number",
                Contract.ends_on.is_(None),
            ),
        ),
        (
            "broadband anchor: move the anchor or cancel broadband",
            and_(
                active,
                exists().where(BundleMember.line_id == Line.id, BundleMember.role == "anchor"),
            ),
        ),
        (
            "family primary with members",
            and_(
                active,
                exists().where(FamilyMember.line_id == Line.id, FamilyMember.role == "primary"),
                other,
            ),
        ),
        ("pending order in flight", and_(active, ordered)),
        ("lost (挂失): store visit", Line.status == "lost"),
        ("fraud stop / judicial freeze", Line.status.in_(("fraud_stop", "judicial_freeze"))),
        ("retained (停机保号)", Line.status == "retained"),
        (
            "passport holder: online not allowed, store instead",
            and_(active, Owner.id_type == "passport"),
        ),
        ("never real-name verified", and_(active, Line.real_name_verified.is_(False))),
        ("owner with several lines: ID lookup (一证通查)", and_(plain, second >= 2)),
    ]
    found: list[DemoNumber] = []
    for shows, condition in wanted:
        row = session.execute(
            select(
                Line.msisdn,
                Line.province_code,
                Line.status,
                Owner.id_type,
                Line.service_password_hash,
            )
            .join(Owner, Owner.id == Line.owner_id)
            .where(condition)
            .order_by(Line.id)
            .limit(1)
        ).first()
        if row is not None:
            ok = verify(key, row.msisdn, row.service_password_hash, DEMO_PASSWORD)
            found.append(
                DemoNumber(shows, row.msisdn, row.province_code, row.status, row.id_type, ok)
            )
    return found
