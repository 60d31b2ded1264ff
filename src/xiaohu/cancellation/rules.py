"""The cancellation check (销户校验): every blocker at once, the warnings and the quote's money.

Pure: a `LineSnapshot` (loaded by the service in a few queries) and the province's policy go in,
a list of blockers comes out. Why every blocker: the subscriber fixes them all in one go instead
of discovering them one store visit at a time, and the operator may refuse only on a listed code
(each refusal is logged with its codes, so it is evidence for a complaint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from xiaohu.billing.rules import Charge, FinalBill, final_bill, final_charges
from xiaohu.contracts.rules import COMPLAINT_ROUTE, ContractTerms, in_term, penalty
from xiaohu.kit.money import yuan
from xiaohu.policy.schema import Values

ABNORMAL_STATES = {"lost": "挂失", "fraud_stop": "涉诈停机", "judicial_freeze": "司法冻结"}
ID_TYPE_NAMES = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "foreign_permanent_resident": "外国人永久居留身份证",
}


@dataclass(frozen=True)
class SnapshotContract:
    ref: str  # the contract id subscribers see (C-1), used in remedy links
    status: str  # active | terminated
    terms: ContractTerms


@dataclass(frozen=True)
class SnapshotOrder:
    ref: str
    kind: str


@dataclass(frozen=True)
class OwingLine:
    """Another line of the same owner with billed and unpaid bills (a cancelled line's
    shortfall after its true-up included): it gets a blocker of its own under owner scope."""

    msisdn: str
    status: str
    arrears_fen: int


@dataclass(frozen=True)
class LineSnapshot:
    """What the check needs to know about one line, read in one go."""

    line_id: int
    msisdn: str
    province_code: str
    status: str
    real_name_verified: bool
    id_type: str
    arrears_fen: int  # billed and unpaid on this line
    other_lines_arrears_fen: int  # on the owner's other lines (counted when scope = owner)
    cash_fen: int
    gift_fen: int
    plan_fee_fen: int
    unbilled_usage_fen: int
    usage_history_fen: tuple[int, ...] = ()  # most recent cycle first
    opened_on: dt.date | None = None
    contracts: tuple[SnapshotContract, ...] = ()
    bundle_id: str | None = None
    bundle_role: str | None = None  # anchor | member (of an active bundle)
    family_group_id: str | None = None
    family_role: str | None = None  # primary | member
    family_other_members: int = 0  # live lines of the group besides this one
    pending_orders: tuple[SnapshotOrder, ...] = ()
    bank_collection_pending: bool = False
    version: int = 1
    other_lines_owing: tuple[OwingLine, ...] = ()  # the breakdown of other_lines_arrears_fen


@dataclass(frozen=True)
class Notice:
    """A blocker or a warning: stable code, both languages, the amount/date, the remedy."""

    code: str
    message: str
    message_en: str
    amount_fen: int | None = None
    ends_on: dt.date | None = None
    remedy: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        out["message_en"] = self.message_en
        if self.amount_fen is not None:
            out["amount_fen"] = self.amount_fen
        if self.ends_on is not None:
            out["ends_on"] = self.ends_on.isoformat()
        out.update(self.details)
        if self.remedy is not None:
            out["remedy"] = self.remedy
        return out


Blocker = Notice
# Where the owner is not seen: the hotline takes the online factors, so the online channel's
# document rule (`online_id_types`) holds for it too.
REMOTE_CHANNELS = ("online", "hotline")


class CancellationStatus(StrEnum):
    CANCELLED = "cancelled"
    REVERSED = "reversed"  # undone inside the window (返销)
    PENDING_REVIEW = "pending_review"  # a work order's request, waiting for the decision
    REJECTED = "rejected"  # the work order was rejected: the line stays as it was


class AccountStatus(StrEnum):
    SETTLING = "settling"  # cancelled; the reserve held until the cycle closes
    CLOSED = "closed"  # trued up at the cycle's close
    REVERSED = "reversed"


class UndoState(Protocol):
    """What the undo window is decided on (a `Cancellation` row)."""

    @property
    def status(self) -> str: ...
    @property
    def account_status(self) -> str: ...
    @property
    def undo_until(self) -> dt.datetime: ...


def undo_open(c: UndoState, now: dt.datetime) -> bool:
    """The cancellation can still be reversed (返销): not reversed already, its account still
    settling (a cycle close that trued it up ends the window however long it was), and before
    `undo_until`. The one test every place asks: the reversal, sign-in, the check, the pages."""
    return (
        c.status == CancellationStatus.CANCELLED
        and c.account_status == AccountStatus.SETTLING
        and now < c.undo_until
    )


@dataclass(frozen=True)
class AtCounter:
    """The store channel's side of the check: which kind of store handles the line, whether
    the owner stands at the counter in person (not a proxy), and the stores that may cancel
    (`stores.directory`), for a store that may not."""

    store_code: str
    store_kind: str
    kinds_allowed: tuple[str, ...]
    in_person: bool

    @property
    def may_cancel(self) -> bool:
        return self.store_kind in self.kinds_allowed


def _store_href(msisdn: str, tail: str) -> str:
    return f"/api/v1/store/lines/{msisdn}/{tail}"


def _at_counter(action: str, href: str, bring: list[str]) -> dict[str, Any]:
    """A remedy the clerk carries out at once, with the owner in front of them."""
    return {"action": action, "method": "POST", "href": href, "where": "counter", "bring": bring}


def _line_href(msisdn: str, tail: str) -> str:
    return f"/api/v1/lines/{msisdn}/{tail}"


def _store_visit(bring: list[str], why: str) -> dict[str, Any]:
    return {"action": "visit_store", "method": None, "href": None, "bring": bring, "why": why}


def arrears_blockers(snap: LineSnapshot, values: Values, bill: FinalBill) -> list[Blocker]:
    """One ARREARS blocker for what this line owes (its bills and the final bill's
    shortfall), paid on this line; under owner scope one more for each other line of the
    owner that owes, paid on that line (a token of any of the owner's lines may pay it, see
    `billing.api`). Why per line: a payment settles the bills of the line it is made to, so
    each remedy must name the line whose bills it clears."""
    out: list[Blocker] = []
    owner_scope = values.arrears_scope == "owner"
    others = snap.other_lines_owing if owner_scope else ()
    # What the breakdown does not explain (a snapshot built without it) still blocks here.
    rest = snap.other_lines_arrears_fen - sum(o.arrears_fen for o in others) if owner_scope else 0
    own = snap.arrears_fen + max(rest, 0)
    if own > 0 or bill.shortfall_fen > 0:
        owed = own + bill.shortfall_fen
        scope = "机主名下号码" if rest > 0 else "本号码"
        zh = [f"{scope}欠费{yuan(own)}"] if own else []
        en = [f"{yuan(own)} billed and unpaid"] if own else []
        if bill.shortfall_fen:
            zh.append(f"余额不足以支付本期销户费用，还差{yuan(bill.shortfall_fen)}")
            en.append(f"{yuan(bill.shortfall_fen)} of the final bill the balance does not cover")
        out.append(
            _arrears_notice(
                snap.msisdn,
                "，".join(zh) + f"，请先在线缴费{yuan(owed)}。",
                f"{yuan(owed)} is owed ({'; '.join(en)}); pay it online first.",
                owed,
                {
                    "billed_fen": own,
                    "final_bill_shortfall_fen": bill.shortfall_fen,
                    "scope": values.arrears_scope,
                },
            )
        )
    for o in others:
        state = "已销户号码" if o.status == "cancelled" else "机主名下其他号码"
        out.append(
            _arrears_notice(
                o.msisdn,
                f"{state}{o.msisdn}欠费{yuan(o.arrears_fen)}，请先为该号码在线缴费。",
                f"{yuan(o.arrears_fen)} is owed on the owner's "
                f"{'cancelled ' if o.status == 'cancelled' else ''}line {o.msisdn}; pay it "
                "online first.",
                o.arrears_fen,
                {
                    "billed_fen": o.arrears_fen,
                    "final_bill_shortfall_fen": 0,
                    "scope": values.arrears_scope,
                    "msisdn": o.msisdn,
                    "line_status": o.status,
                },
            )
        )
    return out


def _arrears_notice(payee: str, zh: str, en: str, owed: int, details: dict[str, Any]) -> Blocker:
    return Notice(
        "ARREARS",
        zh,
        en,
        amount_fen=owed,
        details=details,
        remedy={
            "action": "pay",
            "method": "POST",
            "href": _line_href(payee, "payments"),
            "amount_fen": owed,
        },
    )


def price(snap: LineSnapshot, values: Values, today: dt.date) -> FinalBill:
    """The final bill if the line were cancelled today."""
    charges: list[Charge] = final_charges(
        status=snap.status,
        plan_fee_fen=snap.plan_fee_fen,
        today=today,
        opened_on=snap.opened_on,
        unbilled_usage_fen=snap.unbilled_usage_fen,
        values=values,
    )
    return final_bill(
        charges,
        cash_fen=snap.cash_fen,
        gift_fen=snap.gift_fen,
        history_fen=snap.usage_history_fen,
        values=values,
    )


def check_cancellation(
    snap: LineSnapshot,
    values: Values,
    today: dt.date,
    channel: str,
    bill: FinalBill | None = None,
    counter: AtCounter | None = None,
) -> list[Blocker]:
    """Every blocker that applies, in a stable order; an empty list means the line may go.
    `counter`: the store handling it (store channel), which may clear some blockers at once."""
    m = snap.msisdn
    out: list[Blocker] = []
    if snap.status == "cancelled":
        return [
            Notice(
                "ALREADY_CANCELLED",
                "该号码已销户。",
                "This number is already cancelled.",
            )
        ]
    bill = bill or price(snap, values, today)

    out.extend(arrears_blockers(snap, values, bill))
    owner_here = counter is not None and counter.in_person
    if snap.status in ABNORMAL_STATES:
        remedy = _store_visit(["owner's ID document (original)"], snap.status)
        if owner_here and snap.status == "lost":  # 挂失 is lifted by the owner in person
            remedy = _at_counter(
                "lift_lost_state", _store_href(m, "lost-state/lift"), ["owner's ID (original)"]
            )
        out.append(
            Notice(
                "ABNORMAL_STATE",
                f"号码处于{ABNORMAL_STATES[snap.status]}状态，需本人持证件到营业厅办理。",
                f"The line is in state {snap.status}; the owner must visit a store with the ID.",
                details={"state": snap.status},
                remedy=remedy,
            )
        )
    if not snap.real_name_verified:
        remedy = _store_visit(["owner's ID document (original)"], "real-name registration")
        if owner_here:
            remedy = _at_counter(
                "register_real_name", _store_href(m, "real-name"), ["owner's ID (original)"]
            )
        out.append(
            Notice(
                "NOT_REAL_NAME",
                "号码未完成实名登记，请机主持有效证件到营业厅办理。",
                "The line was never real-name verified; the owner must visit a store with the ID.",
                remedy=remedy,
            )
        )
    out.extend(_contract_blockers(snap, values, today))
    if snap.bundle_role == "anchor":
        out.append(
            Notice(
                "BROADBAND_BOUND",
                "本号码是融合宽带的主号，请先将宽带转到机主的其他号码，或一并取消宽带。",
                "This line anchors a broadband bundle: move the anchor to another line of the "
                "owner, or cancel the broadband with it.",
                details={"bundle_id": snap.bundle_id},
                remedy={
                    "action": "release_bundle",
                    "method": "POST",
                    "href": _line_href(m, "bundle/release"),
                    "options": [
                        {"action": "move_anchor", "to_msisdn": "<another line of the owner>"},
                        {"action": "cancel_broadband"},
                    ],
                },
            )
        )
    if snap.family_role == "primary" and snap.family_other_members > 0:
        out.append(
            Notice(
                "FAMILY_PRIMARY",
                f"本号码是亲情网/主副卡的主卡，还有{snap.family_other_members}个成员，"
                "请先移出或转移成员。",
                f"This line is the primary of a family group with {snap.family_other_members} "
                "member(s); remove or re-home them first.",
                details={"group_id": snap.family_group_id, "members": snap.family_other_members},
                remedy={
                    "action": "release_family",
                    "method": "POST",
                    "href": _line_href(m, "family/release"),
                    "options": [
                        {"action": "remove_members"},
                        {"action": "rehome", "to_msisdn": "<a member line of the owner>"},
                    ],
                },
            )
        )
    for order in snap.pending_orders:
        out.append(
            Notice(
                "PENDING_ORDER",
                f"有在途业务单（{order.ref}，{order.kind}），请等待完成或撤销。",
                f"Order {order.ref} ({order.kind}) is in flight; wait for it or cancel it.",
                details={"order_id": order.ref, "kind": order.kind},
                remedy={
                    "action": "cancel_order",
                    "method": "POST",
                    "href": _line_href(m, f"orders/{order.ref}/cancel"),
                },
            )
        )
    if snap.bank_collection_pending:
        out.append(
            Notice(
                "BANK_COLLECTION_PENDING",
                "银行代扣正在处理中，请在扣款完成后再办理销户。",
                "A direct-debit collection is in progress; cancel once it has completed.",
                remedy={"action": "wait", "method": None, "href": None},
            )
        )
    if channel in REMOTE_CHANNELS and snap.id_type not in values.online_id_types:
        doc = ID_TYPE_NAMES.get(snap.id_type, snap.id_type)
        out.append(
            Notice(
                "CHANNEL_NOT_ALLOWED",
                f"持{doc}登记的号码不能在线销户，请机主携带{doc}原件到任一自有营业厅办理。",
                f"Lines registered with a {snap.id_type} cannot be cancelled online; the owner "
                "can cancel at any own store with the document's original.",
                details={"channel": channel, "id_type": snap.id_type},
                remedy={
                    **_store_visit([f"{snap.id_type} (original)"], "channel"),
                    "channels": ["store"],
                },
            )
        )
    if counter is not None and not counter.may_cancel:
        out.append(_partner_store(counter))
    return out


def _partner_store(counter: AtCounter) -> Blocker:
    """A store whose kind the province's policy does not let cancel (a partner hall)."""
    return Notice(
        "CHANNEL_NOT_ALLOWED",
        "本厅（合作营业厅）不能办理销户，请到以下自有营业厅办理。",
        "This store (a partner hall) cannot cancel lines; any of the own stores below can.",
        details={"channel": "store", "store_code": counter.store_code, "kind": counter.store_kind},
        # `cancellation.where` adds the stores that can, nearest first, and their search
        remedy={**_store_visit([], "channel"), "channels": ["store"]},
    )


def _contract_blockers(snap: LineSnapshot, values: Values, today: dt.date) -> list[Blocker]:
    out: list[Blocker] = []
    for c in snap.contracts:
        if c.status != "active" or not in_term(c.terms, today):
            continue
        p = penalty(c.terms, today, values)
        href = _line_href(snap.msisdn, f"contracts/{c.ref}/early-termination")
        pay = {"action": "early_termination", "method": "POST", "href": href}
        details = {"contract_id": c.ref, "kind": c.terms.kind, "formula": p.formula}
        if c.terms.kind == "premium_number":
            if p.amount_fen is None:
                out.append(
                    Notice(
                        "PREMIUM_MIN_SPEND",
                        "靓号终身最低消费协议不能在线解除，请通过投诉渠道处理。",
                        "A lifetime premium-number minimum spend cannot be ended online; use "
                        "the complaint route.",
                        details={**details, "lifetime": True},
                        remedy={
                            "action": "complaint",
                            "method": None,
                            "href": None,
                            "route": COMPLAINT_ROUTE.as_dict(),
                        },
                    )
                )
            else:
                out.append(
                    Notice(
                        "PREMIUM_MIN_SPEND",
                        f"靓号最低消费协议至{c.terms.ends_on}，提前解约需支付{yuan(p.amount_fen)}。",
                        f"A premium-number minimum spend runs until {c.terms.ends_on}; ending "
                        f"it now costs {yuan(p.amount_fen)}.",
                        amount_fen=p.amount_fen,
                        ends_on=c.terms.ends_on,
                        details={**details, "lifetime": False},
                        remedy={**pay, "penalty_fen": p.amount_fen},
                    )
                )
            continue
        amount = p.amount_fen or 0
        label = "合约机" if c.terms.kind == "handset" else "融合业务"
        out.append(
            Notice(
                "CONTRACT_ACTIVE",
                f"{label}合约（{c.ref}）至{c.terms.ends_on}，可支付违约金{yuan(amount)}"
                "提前解约，或等合约到期。",
                f"The {c.terms.kind} contract {c.ref} runs until {c.terms.ends_on}; pay the "
                f"{yuan(amount)} early-termination penalty, or wait for it to end.",
                amount_fen=amount,
                ends_on=c.terms.ends_on,
                details=details,
                remedy={**pay, "penalty_fen": amount},
            )
        )
    return out


def warnings(
    snap: LineSnapshot, values: Values, bill: FinalBill, cycle_closes_on: dt.date
) -> list[Notice]:
    """Not blocking, but each must be acknowledged before the final step. The reminder to
    unbind internet accounts (a regulator requirement at cancellation) always comes first."""
    out = [
        Notice(
            "UNBIND_INTERNET_ACCOUNTS",
            "销户前请解除本号码与银行、微信、支付宝等互联网账号的绑定：号码冷冻期满后会重新放号，"
            "新机主可能收到您的验证码。",
            "Before cancelling, unbind this number from bank, WeChat, Alipay and other internet "
            "accounts: after the quarantine the number is issued again and its new owner could "
            "receive your codes.",
        )
    ]
    if bill.forfeited_fen > 0:
        out.append(
            Notice(
                "GIFT_FORFEITED",
                f"赠款余额{yuan(bill.forfeited_fen)}不予退还，销户后作废。",
                f"{yuan(bill.forfeited_fen)} of gift credit is not refundable and is forfeited.",
                amount_fen=bill.forfeited_fen,
            )
        )
    if bill.refund_fen > 0:
        out.append(
            Notice(
                "REFUND_TIMING",
                f"现金余额{yuan(bill.refund_now_fen)}将立即退回所选账户；"
                f"{yuan(bill.reserve_fen)}预留至{cycle_closes_on}账期结算后自动退还。",
                f"{yuan(bill.refund_now_fen)} is refunded at once to the chosen route; "
                f"{yuan(bill.reserve_fen)} is held until the cycle closes on {cycle_closes_on} "
                "and then paid back automatically.",
                amount_fen=bill.refund_now_fen,
                details={
                    "reserve_fen": bill.reserve_fen,
                    "settles_on": cycle_closes_on.isoformat(),
                },
            )
        )
    if bill.reserve_fen > 0:
        out.append(
            Notice(
                "LATE_USAGE_RESERVE",
                f"预留{yuan(bill.reserve_fen)}用于结算迟到的话单（如漫游），多退少补。",
                f"{yuan(bill.reserve_fen)} is held for usage rated late (roaming); what it does "
                "not use is refunded.",
                amount_fen=bill.reserve_fen,
            )
        )
    out.append(
        Notice(
            "QUARANTINE",
            f"销户后号码冷冻{values.quarantine_days}天，之后可能分配给新用户。",
            f"The number rests {values.quarantine_days} days in quarantine, then may be issued "
            "to a new subscriber.",
            details={"days": values.quarantine_days},
        )
    )
    if values.undo_window_hours > 0:
        out.append(
            Notice(
                "UNDO_WINDOW",
                f"销户后{values.undo_window_hours}小时内可申请返销（恢复号码）。",
                f"The cancellation can be undone within {values.undo_window_hours} hours.",
                details={"hours": values.undo_window_hours},
            )
        )
    return out
