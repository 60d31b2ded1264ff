"""Refusal evidence: what a subscriber shows a complaint desk (API.md Part 2, the last item).

Every refused cancellation was logged with its blocker codes and, since the notice reference
exists, with each blocker as the subscriber was shown it (messages and remedy: `blockers`).
An older row has only the codes: its messages come from the catalogue below, the generic
wording of each code (what the check says without the amounts), so no refusal is left
without words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from xiaohu.cancellation.models import Refusal
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.runtime import Context

# code -> (message, message_en, remedy action): the check's wording without a line's figures.
CATALOGUE: dict[str, tuple[str, str, str | None]] = {
    "ARREARS": (
        "号码有未缴清的欠费，请先缴清。",
        "The line has unpaid bills: pay them first.",
        "pay",
    ),
    "ABNORMAL_STATE": (
        "号码处于挂失、涉诈停机或司法冻结状态，需本人持证件到营业厅办理。",
        "The line is lost, stopped for fraud or frozen; the owner must visit a store with the ID.",
        "visit_store",
    ),
    "NOT_REAL_NAME": (
        "号码未完成实名登记，请机主持有效证件到营业厅办理。",
        "The line was never real-name verified; the owner must visit a store with the ID.",
        "visit_store",
    ),
    "CONTRACT_ACTIVE": (
        "合约期内，可支付违约金提前解约，或待合约到期。",
        "A contract is in term: pay the early-termination penalty, or wait for its end.",
        "early_termination",
    ),
    "PREMIUM_MIN_SPEND": (
        "靓号最低消费期内，可支付违约金解约；终身条款请走投诉渠道。",
        "A premium-number minimum spend is in term: pay the penalty; a lifetime term goes to "
        "the complaint route.",
        "early_termination",
    ),
    "BROADBAND_BOUND": (
        "本号码是融合宽带的主号，请先转移宽带或一并取消宽带。",
        "The line anchors a broadband bundle: move the anchor, or cancel the broadband with it.",
        "release_bundle",
    ),
    "FAMILY_PRIMARY": (
        "本号码是亲情网/主副卡的主卡，请先移出或转移成员。",
        "The line is the primary of a family group: remove or re-home its members first.",
        "release_family",
    ),
    "PENDING_ORDER": (
        "有在途业务单，请等待完成或撤销。",
        "An order is in flight: wait for it or cancel it.",
        "cancel_order",
    ),
    "BANK_COLLECTION_PENDING": (
        "银行代扣正在处理中，请在扣款完成后再办理销户。",
        "A direct-debit collection is in progress; cancel once it has completed.",
        "wait",
    ),
    "CHANNEL_NOT_ALLOWED": (
        "该渠道不能办理此号码的销户，请到可办理的渠道（自有营业厅）办理。",
        "This channel may not cancel the line: use one that can (an own store).",
        "visit_store",
    ),
    "REVIEW_REJECTED": (
        "销户申请经归属省复核未通过。",
        "The home province's back office rejected the cancellation on review.",
        None,
    ),
}


def messages_of(refusal: Refusal) -> list[dict[str, Any]]:
    """Each blocker's code, messages and remedy: as stored, else from the catalogue."""
    if refusal.blockers:
        return [
            {
                "code": b.get("code"),
                "message": b.get("message"),
                "message_en": b.get("message_en"),
                "remedy": b.get("remedy"),
            }
            for b in refusal.blockers
        ]
    out: list[dict[str, Any]] = []
    for code in refusal.codes:
        zh, en, action = CATALOGUE.get(code, (code, code, None))
        remedy = {"action": action, "method": None, "href": None} if action else None
        out.append({"code": code, "message": zh, "message_en": en, "remedy": remedy})
    return out


def as_json(refusal: Refusal) -> dict[str, Any]:
    return {
        "reference": refusal.reference,
        "at": _utc(refusal.at),
        "channel": refusal.channel,
        "store_code": refusal.store_code,
        "codes": list(refusal.codes),
        "messages": messages_of(refusal),
    }


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def of_line(ctx: Context, line: Line) -> list[Refusal]:
    """The line's refusals, newest first."""
    return list(
        ctx.session.scalars(
            select(Refusal)
            .where(Refusal.line_id == line.id)
            .order_by(Refusal.at.desc(), Refusal.id.desc())
        )
    )


def find(ctx: Context, line: Line, reference: str) -> Refusal:
    """One refusal of this line by its notice reference: 404 REFUSAL_NOT_FOUND for none, 403
    for another line's (the reference is not a secret, the notice is)."""
    refusal = ctx.session.scalars(
        select(Refusal).where(Refusal.reference == reference)
    ).one_or_none()
    if refusal is None:
        raise DomainError("REFUSAL_NOT_FOUND", f"no refusal {reference}")
    if refusal.line_id != line.id:
        raise DomainError("FORBIDDEN", "this refusal notice belongs to another line")
    return refusal
