"""Ending a contract early online: the CONTRACT_ACTIVE / PREMIUM_MIN_SPEND remedy.

The penalty is charged (Dr receivables / Cr revenue) and settled at once, from where
`rules.split_penalty` says: by default from the balances (gift credit where policy lets gift pay
penalties, then cash) only when they cover it on top of what the final bill needs, otherwise by
a payment of its own through the gateway (Dr gateway_clearing / Cr receivables). A lifetime
premium-number term has no price online; the answer names the complaint route instead. The
gateway is called before any write, so a declined payment leaves the contract and the balances
untouched. `preview_termination` gives the same split without writing: the pages' confirmation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from xiaohu.audit.service import line_event
from xiaohu.billing import service as billing
from xiaohu.contracts.models import Contract
from xiaohu.contracts.rules import (
    COMPLAINT_ROUTE,
    Penalty,
    PenaltySplit,
    in_term,
    penalty,
    split_penalty,
    terms_of,
)
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id
from xiaohu.kit.money import yuan
from xiaohu.lines.models import Line
from xiaohu.lines.service import get_line, lock_line
from xiaohu.notifications.service import send_sms
from xiaohu.runtime import Context

PayWith = Literal["auto", "balance", "balance_first", "payment"]


@dataclass(frozen=True)
class TerminationResult:
    contract_id: str
    penalty_fen: int
    from_cash: int
    from_gift: int
    from_payment: int
    payment_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "penalty_fen": self.penalty_fen,
            "paid_from": {
                "cash_fen": self.from_cash,
                "gift_fen": self.from_gift,
                "payment_fen": self.from_payment,
            },
            "payment_id": self.payment_id,
            "status": "terminated",
        }


@dataclass(frozen=True)
class ContractView:
    contract: Contract
    in_term: bool
    penalty: Penalty


def find_contract(ctx: Context, line: Line, contract_ref: str) -> Contract:
    contract = ctx.session.scalars(
        select(Contract).where(Contract.line_id == line.id, Contract.contract_ref == contract_ref)
    ).one_or_none()
    if contract is None:
        raise DomainError(
            "CONTRACT_NOT_FOUND", f"line {line.msisdn} has no contract {contract_ref}"
        )
    return contract


def list_contracts(ctx: Context, msisdn: str) -> list[ContractView]:
    """Every contract of the line with what ending it would cost today."""
    line = get_line(ctx.session, msisdn)
    today = local_date(ctx.now())
    values = ctx.policy_for(line.province_code)
    rows = ctx.session.scalars(
        select(Contract).where(Contract.line_id == line.id).order_by(Contract.contract_ref)
    ).all()
    out = []
    for c in rows:
        terms = terms_of(c)
        active = c.status == "active" and in_term(terms, today)
        owed = penalty(terms, today, values) if active else Penalty(0, False, None, "not in term")
        out.append(ContractView(c, active, owed))
    return out


@dataclass(frozen=True)
class TerminationPlan:
    """What ending a contract would cost now and where the money would come from."""

    contract: Contract
    owed: Penalty
    split: PenaltySplit
    pay_with: str


def spare_balances(ctx: Context, msisdn: str) -> tuple[int, int]:
    """(cash, gift) the line holds beyond what its unpaid bills and its final bill need, were
    it cancelled today: what a penalty may take without bringing the arrears back."""
    from xiaohu.cancellation import rules as cancellation_rules
    from xiaohu.cancellation import snapshot

    snap = snapshot.load_by_msisdn(ctx.session, msisdn).snapshot
    values = ctx.policy_for(snap.province_code)
    bill = cancellation_rules.price(snap, values, local_date(ctx.now()))
    spare_cash = max(snap.cash_fen, 0) - bill.charges_from_cash_fen - snap.arrears_fen
    spare_gift = max(snap.gift_fen, 0) - bill.gift_applied_fen
    return max(spare_cash, 0), max(spare_gift, 0)


def plan_termination(
    ctx: Context, line: Line, contract_ref: str, pay_with: str | None = None
) -> TerminationPlan:
    """Price the penalty and split it (`rules.split_penalty`); writes nothing."""
    contract = find_contract(ctx, line, contract_ref)
    today = local_date(ctx.now())
    terms = terms_of(contract)
    if contract.status != "active" or not in_term(terms, today):
        raise DomainError(
            "CONTRACT_NOT_ACTIVE",
            f"contract {contract_ref} is {contract.status}, term "
            f"{terms.starts_on or '…'} to {terms.ends_on or 'lifetime'}: nothing to end",
        )
    values = ctx.policy_for(line.province_code)
    owed = penalty(terms, today, values)
    if owed.amount_fen is None:
        raise DomainError(
            "LIFETIME_TERM",
            f"contract {contract_ref} is a lifetime minimum spend: it cannot be ended online",
            complaint=COMPLAINT_ROUTE.as_dict(),
        )
    mode = pay_with or "auto"
    spare_cash, spare_gift = spare_balances(ctx, line.msisdn) if mode == "auto" else (0, 0)
    split = split_penalty(
        owed.amount_fen,
        pay_with=mode,
        cash_fen=line.cash_fen,
        gift_fen=line.gift_fen,
        gift_ok="penalty" in values.gift_may_pay,
        spare_cash_fen=spare_cash,
        spare_gift_fen=spare_gift,
    )
    return TerminationPlan(contract, owed, split, mode)


def preview_termination(
    ctx: Context, msisdn: str, contract_ref: str, pay_with: str | None = None
) -> TerminationPlan:
    """The plan a confirmation screen shows, without locking or writing."""
    return plan_termination(ctx, get_line(ctx.session, msisdn), contract_ref, pay_with)


def terminate_early(
    ctx: Context,
    msisdn: str,
    contract_ref: str,
    *,
    pay_with: PayWith | None = None,
    idempotency_key: str | None = None,
) -> TerminationResult:
    """End a contract in term by paying its penalty now; `pay_with` as in `rules.PAY_WITH`
    (default "auto": from the balances only when they cover it on top of the final bill).

    "balance" short is INSUFFICIENT_FUNDS; "payment" declined is PAYMENT_DECLINED; with "auto"
    and "balance_first" a declined payment is INSUFFICIENT_FUNDS.
    """
    line = lock_line(ctx.session, msisdn)
    if line.status == "cancelled":
        raise DomainError("ALREADY_CANCELLED", f"line {msisdn} is cancelled")
    plan = plan_termination(ctx, line, contract_ref, pay_with)
    contract, owed, split = plan.contract, plan.owed, plan.split
    amount = owed.amount_fen or 0
    from_gift, from_cash, shortfall = split.from_gift, split.from_cash, split.from_payment
    if shortfall and plan.pay_with == "balance":
        raise DomainError(
            "INSUFFICIENT_FUNDS",
            f"the balance covers {yuan(from_gift + from_cash)} of the {yuan(amount)} penalty",
            penalty_fen=amount,
            shortfall_fen=shortfall,
        )
    ref = f"contract:{contract_ref}"
    taken = None
    if shortfall:
        key = f"contract:{msisdn}:{contract_ref}:{idempotency_key or new_id()}:{shortfall}"
        try:
            taken = billing.take_payment(
                ctx, line, shortfall, idempotency_key=key, purpose=f"penalty:{contract_ref}"
            )
        except DomainError as err:
            if err.code != "PAYMENT_DECLINED" or plan.pay_with == "payment":
                raise
            raise DomainError(
                "INSUFFICIENT_FUNDS",
                f"the balance covers {yuan(from_gift + from_cash)} of the {yuan(amount)} "
                f"penalty the final bill can spare and the payment of {yuan(shortfall)} was "
                "declined",
                penalty_fen=amount,
                shortfall_fen=shortfall,
                reason=err.extra.get("reason"),
            ) from err
    billing.post_charge(ctx, line, "penalty", amount, ref=ref)
    # Gift and cash settled separately: the split, not the posting order, decides how much
    # of each the penalty takes.
    if from_gift:
        billing.settle_from_balances(
            ctx, line, from_gift, gift_allowed=True, cash_allowed=False, ref=ref
        )
    if from_cash:
        billing.settle_from_balances(ctx, line, from_cash, gift_allowed=False, ref=ref)
    if taken is not None:
        billing.settle_from_payment(ctx, line, taken, ref=ref)
    _close(ctx, line, contract, owed, from_cash, from_gift, shortfall)
    return TerminationResult(
        contract_ref,
        amount,
        from_cash,
        from_gift,
        shortfall,
        taken.payment.id if taken else None,
    )


def _close(
    ctx: Context,
    line: Line,
    contract: Contract,
    owed: Penalty,
    from_cash: int,
    from_gift: int,
    from_payment: int,
) -> None:
    now: dt.datetime = ctx.now()
    contract.status = "terminated"
    contract.penalty_fen = owed.amount_fen
    contract.terminated_at = now
    line.updated_at = now
    line_event(
        ctx,
        "contract.terminated_early",
        line.msisdn,
        line.province_code,
        {
            "contract_id": contract.contract_ref,
            "kind": contract.kind,
            "penalty_fen": owed.amount_fen,
            "formula": owed.formula,
            "paid_from": {
                "cash_fen": from_cash,
                "gift_fen": from_gift,
                "payment_fen": from_payment,
            },
        },
        at=now,
    )
    send_sms(
        ctx.session,
        line.msisdn,
        f"【销户助手】合约{contract.contract_ref}已提前解除，违约金{yuan(owed.amount_fen or 0)}"
        f"（余额支付{yuan(from_cash + from_gift)}，在线支付{yuan(from_payment)}）。",
        "contract_terminated",
        at=now,
        province_code=line.province_code,
    )
    ctx.session.flush()
