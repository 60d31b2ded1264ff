"""Money in and charges: paying arrears online, applying cash to bills, charging final items.

Every movement is a balanced journal transaction, and whoever posts to a line's cash or gift
sub-ledger updates `Line.cash_fen` / `Line.gift_fen` in the same unit of work (the invariant the
trial-balance tests check). Gateway calls come first, before any write, so a declined payment
leaves nothing behind; the gateway is idempotent by key, so a retried request never charges twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xiaohu.audit.service import line_event
from xiaohu.billing.gateway import GatewayResult, IdempotencyConflict, PaymentGateway
from xiaohu.billing.models import Bill, Payment, UsageRecord
from xiaohu.identity.rules import mask_msisdn
from xiaohu.interprovince import dues
from xiaohu.invoices import service as invoices
from xiaohu.kit.bounds import MAX_FEN
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id
from xiaohu.kit.money import yuan
from xiaohu.ledger.rules import GATEWAY_CLEARING, Posting, credit, debit
from xiaohu.ledger.service import post
from xiaohu.lines.models import Line
from xiaohu.lines.service import get_line, lock_line
from xiaohu.notifications.service import order_provisioning, send_sms
from xiaohu.runtime import Context


@dataclass(frozen=True)
class PaymentResult:
    payment_id: str
    applied: list[dict[str, Any]]
    cash_balance_fen: int
    reactivated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "applied": self.applied,
            "cash_balance_fen": self.cash_balance_fen,
        }


@dataclass(frozen=True)
class ChargeResult:
    from_cash: int
    from_gift: int
    unpaid: int = 0  # left in receivables: the caller bills it (a final bill) or refuses


@dataclass(frozen=True)
class PaymentSource:
    """Where a payment comes from: online through the gateway (the default), or at a store's
    counter, in cash (into the store's drawer, no gateway) or by card (through the gateway),
    taken by a clerk. The payment row records the store, the method and the clerk."""

    method: str = "sandbox"  # online: a label for the log; at a store: cash | card
    store_code: str | None = None
    staff_login: str | None = None
    store_province: str | None = None  # the store's province (None: the line's own)

    @property
    def is_cash(self) -> bool:
        return self.store_code is not None and self.method == "cash"

    def debit_leg(self, ctx: Context, line: Line, amount_fen: int, *, ref: str) -> Posting:
        """Where the money arrives, in the line's province's books: the gateway's clearing
        (online, or a card at a counter: the home province's gateway, nothing owed between
        provinces); cash, the store's drawer, or, at a store of another province, what that
        province now owes the line's (`interprovince.dues`), which is sent its drawer's side."""
        if not self.is_cash or self.store_code is None:
            return debit(GATEWAY_CLEARING, amount_fen)
        return dues.collected_leg(
            ctx,
            home=line.province_code,
            store_code=self.store_code,
            store_province=self.store_province or line.province_code,
            amount_fen=amount_fen,
            ref=ref,
            msisdn_masked=mask_msisdn(line.msisdn),
        )


ONLINE = PaymentSource()


@dataclass
class TakenPayment:
    payment: Payment
    result: GatewayResult
    replayed: bool = False


def arrears_fen(session: Session, line_ids: Iterable[int]) -> int:
    """Billed and unpaid, over the given lines."""
    ids = list(line_ids)
    if not ids:
        return 0
    total = session.scalar(
        select(func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0)).where(
            Bill.line_id.in_(ids), Bill.status == "unpaid"
        )
    )
    return int(total or 0)


def gateway_of(ctx: Context) -> PaymentGateway:
    return ctx.runtime.payment_gateway


def account(template: str, line: Line) -> str:
    return f"{template}:{line.province_code}"


def require_amount(amount_fen: object) -> int:
    if (
        isinstance(amount_fen, bool)
        or not isinstance(amount_fen, int)
        or not 0 < amount_fen <= MAX_FEN
    ):
        raise DomainError(
            "VALIDATION_FAILED",
            f"amount_fen must be an integer number of fen from 1 to {MAX_FEN}",
            errors=[{"field": "amount_fen", "reason": f"must be an integer, 1 to {MAX_FEN}"}],
        )
    return amount_fen


def take_payment(
    ctx: Context,
    line: Line,
    amount_fen: int,
    *,
    idempotency_key: str,
    purpose: str,
    source: PaymentSource = ONLINE,
) -> TakenPayment:
    """Charge the gateway and record the Payment row (no ledger posting: the caller decides
    where the money goes). Declined: `PAYMENT_DECLINED`, nothing written. Cash at a counter
    has no gateway: the clerk took the notes, so the row is recorded at once."""
    if source.is_cash:
        return _record(ctx, line, amount_fen, "store_drawer", None, purpose, source)
    gateway = gateway_of(ctx)
    try:
        result = gateway.charge(amount_fen, line.msisdn, idempotency_key)
    except IdempotencyConflict as exc:  # the caller's key, reused for another amount
        raise DomainError("IDEMPOTENCY_KEY_REUSED", str(exc)) from None
    if not result.succeeded:
        raise DomainError(
            "PAYMENT_DECLINED",
            f"the payment gateway declined {yuan(amount_fen)}: {result.reason}",
            reason=result.reason,
            amount_fen=amount_fen,
        )
    earlier = ctx.session.scalars(
        select(Payment).where(Payment.line_id == line.id, Payment.gateway_ref == result.gateway_ref)
    ).first()
    if earlier is not None:  # the same charge, already recorded: never count it twice
        return TakenPayment(earlier, result, replayed=True)
    name = getattr(gateway, "name", "external")
    taken = _record(ctx, line, amount_fen, name, result.gateway_ref, purpose, source)
    return TakenPayment(taken.payment, result)


def _record(
    ctx: Context,
    line: Line,
    amount_fen: int,
    gateway: str,
    gateway_ref: str | None,
    purpose: str,
    source: PaymentSource,
) -> TakenPayment:
    """The Payment row of money received, its audit event and its blue invoice (issued by
    the line's home province, on the line the money was paid to)."""
    payment = Payment(
        id=new_id(),
        line_id=line.id,
        province_code=line.province_code,
        amount_fen=amount_fen,
        gateway=gateway,
        gateway_ref=gateway_ref,
        status="succeeded",
        applied=[],
        created_at=ctx.now(),
        store_code=source.store_code,
        method=source.method if source.store_code else None,
        staff_login=source.staff_login,
    )
    ctx.session.add(payment)
    ctx.session.flush()
    at_store = (
        {"store_code": source.store_code, "method": source.method} if source.store_code else {}
    )
    line_event(
        ctx,
        "payment.received",
        line.msisdn,
        line.province_code,
        {
            "payment_id": payment.id,
            "amount_fen": amount_fen,
            "gateway_ref": gateway_ref,
            "purpose": purpose,
            **at_store,
        },
    )
    # After the audit line (the invoice counter's lock comes second: `invoices.service`).
    invoices.on_payment(ctx, line, payment_id=payment.id, amount_fen=amount_fen, purpose=purpose)
    return TakenPayment(payment, GatewayResult("succeeded", gateway_ref))


def pay(
    ctx: Context,
    msisdn: str,
    amount_fen: int,
    *,
    idempotency_key: str | None = None,
    method: str = "sandbox",
    bills_only: bool = False,
    source: PaymentSource | None = None,
) -> PaymentResult:
    """Pay into a line: cash in, then oldest unpaid bills first; the rest stays as cash. A line
    suspended for arrears is reactivated once nothing is owed. `bills_only` (a payment made
    with another line's token): only what the line owes, never a top-up of its cash. `source`:
    online by default; at a store's counter, cash goes into its drawer (`PaymentSource`)."""
    source = source or PaymentSource(method=method)
    amount = require_amount(amount_fen)
    line = lock_line(ctx.session, msisdn)
    if bills_only:
        refuse_above_owed(ctx, line, amount, "is paid for by another of the owner's lines")
    # The amount is part of the gateway's key: a declined payment gives the client's key back
    # (nothing was stored), so a retry under it with another amount is another charge.
    key = f"pay:{msisdn}:{idempotency_key or new_id()}:{amount}"
    if line.status == "cancelled":
        return pay_closed_account(ctx, line, amount, key=key, source=source)
    taken = take_payment(
        ctx, line, amount, idempotency_key=key, purpose=f"payment:{source.method}", source=source
    )
    if taken.replayed:
        return PaymentResult(taken.payment.id, list(taken.payment.applied), line.cash_fen)
    now = ctx.now()
    p = line.province_code
    post(
        ctx.session,
        "payment.received",
        [
            source.debit_leg(ctx, line, amount, ref=taken.payment.id),
            credit(f"subscriber_cash:{p}", amount, line.id),
        ],
        at=now,
        ref=taken.payment.id,
        province_code=p,
    )
    line.cash_fen += amount
    applied = apply_cash_to_bills(ctx, line)
    taken.payment.applied = applied
    reactivated = reactivate_if_clear(ctx, line)
    line.updated_at = now
    paid_bills = sum(int(a["amount_fen"]) for a in applied)
    send_sms(
        ctx.session,
        line.msisdn,
        f"【销户助手】您已成功缴费{yuan(amount)}，其中{yuan(paid_bills)}用于结清账单，"
        f"当前现金余额{yuan(line.cash_fen)}。" + ("号码已恢复正常使用。" if reactivated else ""),
        "payment_receipt",
        at=now,
        province_code=p,
    )
    ctx.session.flush()
    return PaymentResult(taken.payment.id, applied, line.cash_fen, reactivated)


def pay_closed_account(
    ctx: Context, line: Line, amount_fen: int, *, key: str, source: PaymentSource = ONLINE
) -> PaymentResult:
    """Pay what a cancelled line still owes (a true-up's shortfall): accepted up to the unpaid
    bills, never more, and straight to them (Dr gateway_clearing / Cr receivables), so no
    cash ever appears on a line that is gone. More than it owes: `PAYMENT_EXCEEDS_OWED`,
    refused before the gateway is charged. No SMS: a cancelled number receives none."""
    refuse_above_owed(ctx, line, amount_fen, "is cancelled")
    taken = take_payment(
        ctx,
        line,
        amount_fen,
        idempotency_key=key,
        purpose=f"payment:{source.method}",
        source=source,
    )
    if taken.replayed:
        return PaymentResult(taken.payment.id, list(taken.payment.applied), line.cash_fen)
    bills = ctx.session.scalars(
        select(Bill)
        .where(Bill.line_id == line.id, Bill.status == "unpaid")
        .order_by(Bill.period, Bill.id)
    ).all()
    applied: list[dict[str, Any]] = []
    left = amount_fen
    for bill in bills:
        take = min(left, bill.amount_fen - bill.paid_fen)
        if take <= 0:
            continue
        bill.paid_fen += take
        bill.status = "paid" if bill.paid_fen >= bill.amount_fen else "unpaid"
        applied.append({"period": bill.period, "amount_fen": take})
        left -= take
    p = line.province_code
    post(
        ctx.session,
        "payment.received",
        [
            source.debit_leg(ctx, line, amount_fen, ref=taken.payment.id),
            credit(f"receivables:{p}", amount_fen, line.id),
        ],
        at=ctx.now(),
        ref=taken.payment.id,
        memo="closed_account",
        province_code=p,
    )
    taken.payment.applied = applied
    line.updated_at = ctx.now()
    ctx.session.flush()
    return PaymentResult(taken.payment.id, applied, line.cash_fen)


def owes(msisdn: str, owed_fen: int, *, at_counter: bool = False) -> DomainError:
    """`409 ARREARS` for a line that must pay what it owes first, with the way to pay: the
    line's payments route online, the store's payments (cash or card) at a counter."""
    remedy: dict[str, Any] = (
        {
            "action": "pay_at_counter",
            "method": "POST",
            "href": "/api/v1/store/payments",
            "body": {"msisdn": msisdn, "amount_fen": owed_fen, "method": "cash | card"},
        }
        if at_counter
        else {"action": "pay", "method": "POST", "href": f"/api/v1/lines/{msisdn}/payments"}
    )
    return DomainError(
        "ARREARS",
        f"{mask_msisdn(msisdn)} owes {yuan(owed_fen)}: pay it first",
        amount_fen=owed_fen,
        remedy={**remedy, "amount_fen": owed_fen},
    )


def refuse_above_owed(ctx: Context, line: Line, amount_fen: int, why: str) -> None:
    """A payment that may only settle bills: more than the line owes is refused before the
    gateway is charged."""
    owed = arrears_fen(ctx.session, [line.id])
    if amount_fen > owed:
        raise DomainError(
            "PAYMENT_EXCEEDS_OWED",
            f"line {line.msisdn} {why} and owes {yuan(owed)}; pay at most that",
            owed_fen=owed,
            errors=[{"field": "amount_fen", "reason": f"must be at most {owed} (owed)"}],
        )


def same_owner(ctx: Context, line_id: int, msisdn: str) -> bool:
    """Whether the line `line_id` (a token's) and the line `msisdn` have the same owner."""
    owners = ctx.session.execute(
        select(Line.id, Line.owner_id).where((Line.id == line_id) | (Line.msisdn == msisdn))
    ).all()
    found = {owner for _, owner in owners}
    return len(owners) == 2 and len(found) == 1


def apply_cash_to_bills(ctx: Context, line: Line) -> list[dict[str, Any]]:
    """Settle unpaid bills of `line` from its cash, oldest period first, as far as cash goes."""
    bills = ctx.session.scalars(
        select(Bill)
        .where(Bill.line_id == line.id, Bill.status == "unpaid")
        .order_by(Bill.period, Bill.id)
    ).all()
    applied: list[dict[str, Any]] = []
    p = line.province_code
    for bill in bills:
        if line.cash_fen <= 0:
            break
        take = min(line.cash_fen, bill.amount_fen - bill.paid_fen)
        if take > 0:
            post(
                ctx.session,
                "bill.settled",
                [
                    debit(f"subscriber_cash:{p}", take, line.id),
                    credit(f"receivables:{p}", take, line.id),
                ],
                at=ctx.now(),
                ref=f"bill:{bill.id}",
                province_code=p,
            )
            line.cash_fen -= take
            bill.paid_fen += take
            applied.append({"period": bill.period, "amount_fen": take})
        if bill.paid_fen >= bill.amount_fen:
            bill.status = "paid"
    ctx.session.flush()
    return applied


def reactivate_if_clear(ctx: Context, line: Line) -> bool:
    """Paying what is owed stops the arrears clock (`arrears_since`): an arrears-suspended line
    that owes nothing is active again as of today (service restored); a retained line whose
    overdue fee is paid stays retained, its clock cleared. True when the line was reactivated."""
    suspended = line.status == "arrears_suspended"
    if not suspended and line.arrears_since is None:
        return False
    if not suspended:  # retained: the clock stops once nothing overdue is owed (a fee billed
        # but not yet due is not arrears: when it goes overdue, the clock starts afresh)
        if not _overdue(ctx, line):
            line.arrears_since = None
        return False
    if arrears_fen(ctx.session, [line.id]) > 0:
        return False
    restore_line(ctx, line, "arrears_paid")
    return True


def _overdue(ctx: Context, line: Line) -> bool:
    """Whether the line has a bill unpaid after its due date plus the grace days (what the
    lifecycle run suspends for and starts the arrears clock on)."""
    today = local_date(ctx.now())
    grace = ctx.policy_for(line.province_code).arrears_grace_days
    found = ctx.session.scalar(
        select(Bill.id)
        .where(
            Bill.line_id == line.id,
            Bill.status == "unpaid",
            Bill.due_on < today - dt.timedelta(days=grace),
        )
        .limit(1)
    )
    return found is not None


def restore_line(ctx: Context, line: Line, reason: str) -> None:
    """Back to active (复机): the arrears clock and the retention dates cleared, the network told
    to restore service, an audit event. The caller has made sure nothing is owed; the plan
    resumes (the restoration month's bill charges the plan fee: active at the close)."""
    now = ctx.now()
    prior = line.status
    line.status = "active"
    line.status_reason = reason
    line.status_changed_at = now
    line.arrears_since = None
    line.retained_on = None
    line.retention_starts_on = None
    line.updated_at = now
    order_provisioning(
        ctx.session, line.msisdn, "restore", at=now, province_code=line.province_code
    )
    line_event(
        ctx,
        "line.reactivated",
        line.msisdn,
        line.province_code,
        {"from": prior, "to": "active", "reason": reason},
        at=now,
    )


def post_charge(ctx: Context, line: Line, item: str, amount_fen: int, *, ref: str) -> None:
    """A charge is owed: Dr receivables(line) / Cr revenue."""
    p = line.province_code
    post(
        ctx.session,
        f"charge.{item}",
        [debit(f"receivables:{p}", amount_fen, line.id), credit(f"revenue:{p}", amount_fen)],
        at=ctx.now(),
        ref=ref,
        province_code=p,
    )


def settle_from_balances(
    ctx: Context,
    line: Line,
    amount_fen: int,
    *,
    gift_allowed: bool,
    cash_allowed: bool = True,
    ref: str,
) -> ChargeResult:
    """Settle up to `amount_fen` of receivables from gift (if allowed) then cash."""
    p = line.province_code
    from_gift = min(max(line.gift_fen, 0), amount_fen) if gift_allowed else 0
    from_cash = min(max(line.cash_fen, 0), amount_fen - from_gift) if cash_allowed else 0
    legs = []
    if from_gift:
        legs += [
            debit(f"subscriber_gift:{p}", from_gift, line.id),
            credit(f"receivables:{p}", from_gift, line.id),
        ]
    if from_cash:
        legs += [
            debit(f"subscriber_cash:{p}", from_cash, line.id),
            credit(f"receivables:{p}", from_cash, line.id),
        ]
    if legs:
        post(ctx.session, "charge.settled", legs, at=ctx.now(), ref=ref, province_code=p)
    line.gift_fen -= from_gift
    line.cash_fen -= from_cash
    return ChargeResult(from_cash, from_gift, amount_fen - from_cash - from_gift)


def charge(
    ctx: Context, line: Line, item: str, amount_fen: int, *, gift_allowed: bool, ref: str
) -> ChargeResult:
    """Charge `item` to the line and settle it from gift (where policy allows) then cash.
    What the balances do not cover stays in receivables (`unpaid`). The caller holds the lock."""
    if amount_fen <= 0:
        return ChargeResult(0, 0, 0)
    post_charge(ctx, line, item, amount_fen, ref=ref)
    return settle_from_balances(ctx, line, amount_fen, gift_allowed=gift_allowed, ref=ref)


def settle_from_payment(ctx: Context, line: Line, taken: TakenPayment, *, ref: str) -> None:
    """A gateway payment that pays a receivable directly: Dr gateway_clearing / Cr receivables."""
    p = line.province_code
    amount = taken.payment.amount_fen
    post(
        ctx.session,
        "payment.received",
        [debit(GATEWAY_CLEARING, amount), credit(f"receivables:{p}", amount, line.id)],
        at=ctx.now(),
        ref=taken.payment.id,
        memo=ref,
        province_code=p,
    )
    taken.payment.applied = [{"item": ref, "amount_fen": amount}]


def list_bills(ctx: Context, msisdn: str) -> list[Bill]:
    line = get_line(ctx.session, msisdn)
    return list(
        ctx.session.scalars(
            select(Bill).where(Bill.line_id == line.id).order_by(Bill.period.desc(), Bill.id)
        )
    )


def add_usage(
    ctx: Context,
    msisdn: str,
    amount_fen: int,
    *,
    source: str = "late",
    occurred_at: dt.datetime | None = None,
) -> UsageRecord:
    """Rated usage arriving for a line (the sandbox's late-usage feed)."""
    if not 0 < amount_fen <= MAX_FEN:
        raise DomainError(
            "VALIDATION_FAILED",
            f"amount_fen must be from 1 to {MAX_FEN}",
            errors=[{"field": "amount_fen", "reason": f"must be 1 to {MAX_FEN}"}],
        )
    line = get_line(ctx.session, msisdn)
    at = occurred_at or ctx.now()
    record = UsageRecord(
        line_id=line.id,
        province_code=line.province_code,
        amount_fen=amount_fen,
        source=source,
        period=f"{local_date(at):%Y-%m}",
        occurred_at=at,
        billed=False,
    )
    ctx.session.add(record)
    ctx.session.flush()
    return record
