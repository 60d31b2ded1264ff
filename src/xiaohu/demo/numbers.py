"""The numbers of the imported demo data worth trying, with what each one shows.

Each situation is picked by running the real cancellation check on candidate lines, at the
time the served sandbox sees (its test clock when one is pinned, else real time): a query
only narrows the candidates, the check decides. So the table tells a new user what they will
see, e.g. the "clean" line really is eligible with money refunded at once on the day they try.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, select
from sqlalchemy.orm import aliased

from xiaohu.billing.models import Bill
from xiaohu.cancellation.service import check_json
from xiaohu.contracts.models import Contract
from xiaohu.demo.data import DEMO_PASSWORD
from xiaohu.identity.passwords import verify
from xiaohu.lines.models import BundleMember, FamilyMember, Line, Owner, PendingOrder
from xiaohu.runtime import Context

# Every blocker a line can show at once (ALREADY_CANCELLED excludes all the others).
EVERY_BLOCKER = frozenset(
    {
        "ARREARS",
        "ABNORMAL_STATE",
        "NOT_REAL_NAME",
        "CONTRACT_ACTIVE",
        "PREMIUM_MIN_SPEND",
        "BROADBAND_BOUND",
        "FAMILY_PRIMARY",
        "PENDING_ORDER",
        "BANK_COLLECTION_PENDING",
        "CHANNEL_NOT_ALLOWED",
    }
)
# How many candidates the check is run on per situation before it is left out of the table.
MAX_TRIES = 400

Answer = dict[str, Any]  # the check's answer, as the API gives it


@dataclass(frozen=True)
class DemoNumber:
    shows: str  # what trying this number demonstrates
    msisdn: str
    province_code: str
    status: str
    owner_id_type: str
    password_ok: bool  # the line's service password is DEMO_PASSWORD


@dataclass(frozen=True)
class Situation:
    shows: str
    candidates: ColumnElement[bool]  # narrows the lines the check is run on
    holds: Callable[[Answer], bool]  # what the check must answer for the row to be true


def codes(answer: Answer) -> list[str]:
    return [b["code"] for b in answer["blockers"]]


def _only(code: str, **details: Any) -> Callable[[Answer], bool]:
    """The check shows exactly one blocker, `code`, with these details (a tuple: one of)."""

    def holds(answer: Answer) -> bool:
        if codes(answer) != [code]:
            return False
        found = answer["blockers"][0]  # a notice's details are fields of its own
        return all(
            found.get(k) in v if isinstance(v, tuple) else found.get(k) == v
            for k, v in details.items()
        )

    return holds


def _refund(gift_forfeited: bool) -> Callable[[Answer], bool]:
    def holds(answer: Answer) -> bool:
        quote = answer["quote"]
        return (
            answer["eligible"]
            and quote["refund_now_fen"] > 0
            and (quote["forfeited_fen"] > 0) == gift_forfeited
        )

    return holds


def _eligible(answer: Answer) -> bool:
    return bool(answer["eligible"])


def _every_blocker(answer: Answer) -> bool:
    return set(codes(answer)) >= EVERY_BLOCKER


def situations() -> list[Situation]:
    """The rows of the table, in order."""
    active = Line.status == "active"
    unpaid = exists().where(Bill.line_id == Line.id, Bill.status == "unpaid")
    contract = exists().where(Contract.line_id == Line.id, Contract.status == "active")
    plain = and_(
        active,
        Owner.id_type == "resident_id",
        not_(unpaid),
        not_(contract),
        not_(exists().where(BundleMember.line_id == Line.id)),
        not_(exists().where(FamilyMember.line_id == Line.id)),
        not_(exists().where(PendingOrder.line_id == Line.id, PendingOrder.status == "open")),
    )
    other = aliased(Line)
    several = (
        select(func.count())
        .where(other.owner_id == Line.owner_id, other.status != "cancelled")
        .scalar_subquery()
    )

    def has_contract(kind: str) -> ColumnElement[bool]:
        return exists().where(
            Contract.line_id == Line.id, Contract.kind == kind, Contract.status == "active"
        )

    def role(model: type[BundleMember] | type[FamilyMember], name: str) -> ColumnElement[bool]:
        return exists().where(model.line_id == Line.id, model.role == name)

    return [
        Situation(
            "clean line: cancel online in a minute, cash refunded at once",
            and_(plain, Line.cash_fen > 0, Line.gift_fen == 0),
            _refund(gift_forfeited=False),
        ),
        Situation(
            "gift credit: cash refunded at once, gift forfeited (warning)",
            and_(plain, Line.cash_fen > 0, Line.gift_fen > 0),
            _refund(gift_forfeited=True),
        ),
        Situation("arrears: pay online, then cancel", and_(active, unpaid), _only("ARREARS")),
        Situation(
            "arrears suspension (欠费停机): pay online, then cancel",
            Line.status == "arrears_suspended",
            _only("ARREARS"),
        ),
        Situation(
            "handset contract in term: pay the penalty or wait",
            and_(active, has_contract("handset")),
            _only("CONTRACT_ACTIVE", kind="handset"),
        ),
        Situation(
            "premium number, lifetime minimum spend: complaint route",
            and_(active, has_contract("premium_number")),
            _only("PREMIUM_MIN_SPEND", lifetime=True),
        ),
        Situation(
            "broadband anchor: move the anchor or cancel broadband",
            and_(active, role(BundleMember, "anchor")),
            _only("BROADBAND_BOUND"),
        ),
        Situation(
            "family primary with members: remove or re-home them",
            and_(active, role(FamilyMember, "primary")),
            _only("FAMILY_PRIMARY"),
        ),
        Situation(
            "pending order in flight: wait or cancel it",
            and_(active, exists().where(PendingOrder.line_id == Line.id)),
            _only("PENDING_ORDER"),
        ),
        Situation(
            "bank direct debit in progress: wait for it",
            and_(active, Line.bank_collection_pending.is_(True)),
            _only("BANK_COLLECTION_PENDING"),
        ),
        Situation("lost (挂失): store visit", Line.status == "lost", _only("ABNORMAL_STATE")),
        Situation(
            "fraud stop / judicial freeze: store visit",
            Line.status.in_(("fraud_stop", "judicial_freeze")),
            _only("ABNORMAL_STATE", state=("fraud_stop", "judicial_freeze")),
        ),
        Situation(
            "retained (停机保号): cancel online like an active line",
            Line.status == "retained",
            _eligible,
        ),
        Situation(
            "passport holder: online not allowed, store instead",
            and_(active, Owner.id_type == "passport"),
            _only("CHANNEL_NOT_ALLOWED"),
        ),
        Situation(
            "never real-name verified: store visit",
            and_(active, Line.real_name_verified.is_(False)),
            _only("NOT_REAL_NAME"),
        ),
        Situation(
            "owner with several lines: ID lookup (一证通查), then cancel",
            and_(plain, several >= 2),
            _eligible,
        ),
        Situation(
            "every blocker at once, each with its remedy",
            and_(Line.bank_collection_pending.is_(True), Line.real_name_verified.is_(False)),
            _every_blocker,
        ),
    ]


def find_demo_numbers(ctx: Context, wanted: list[Situation] | None = None) -> list[DemoNumber]:
    """One line per situation, the first (by id) whose real check, now, shows it; no number
    twice. A situation no candidate shows is left out."""
    taken: set[str] = set()
    found: list[DemoNumber] = []
    for situation in situations() if wanted is None else wanted:
        rows = ctx.session.execute(
            select(
                Line.msisdn,
                Line.province_code,
                Line.status,
                Owner.id_type,
                Line.service_password_hash,
            )
            .join(Owner, Owner.id == Line.owner_id)
            .where(situation.candidates)
            .order_by(Line.id)
            .limit(MAX_TRIES + len(taken))
        ).all()
        for row in rows:
            if row.msisdn in taken or not situation.holds(check_json(ctx, row.msisdn)):
                continue
            taken.add(row.msisdn)
            ok = verify(ctx.settings.key, row.msisdn, row.service_password_hash, DEMO_PASSWORD)
            found.append(
                DemoNumber(
                    situation.shows, row.msisdn, row.province_code, row.status, row.id_type, ok
                )
            )
            break
    return found
