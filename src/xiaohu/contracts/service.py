"""Ending a contract early online: the CONTRACT_ACTIVE / PREMIUM_MIN_SPEND remedy.

The penalty is charged (Dr receivables / Cr revenue) and settled at once: from gift credit when
the policy lets gift pay penalties, then from the cash balance, and the shortfall through the
payment gateway (Dr gateway_clearing / Cr receivables). A lifetime premium-number term has no
price online; the answer names the complaint route instead. The gateway is called before any
write, so a declined payment leaves the contract and the balances untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from xiaohu.audit.service import line_event
from xiaohu.billing import service as billing
from xiaohu.contracts.models import Contract
from xiaohu.contracts.rules import COMPLAINT_ROUTE, Penalty, in_term, penalty, terms_of
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.kit.ids import new_id
from xiaohu.kit.money import yuan
from xiaohu.lines.models import Line
from xiaohu.lines.service import get_line, lock_line
from xiaohu.notifications.service import send_sms
from xiaohu.runtime import Context

PayWith = Literal["balance", "payment"]


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


def terminate_early(
    ctx: Context,
    msisdn: str,
    contract_ref: str,
    *,
    pay_with: PayWith | None = None,
    idempotency_key: str | None = None,
) -> TerminationResult:
    """End a contract in term by paying its penalty now.

    `pay_with`: "balance" uses only the line's balances (INSUFFICIENT_FUNDS when short),
    "payment" takes the whole penalty through the gateway (PAYMENT_DECLINED when declined);
    by default the balance is used first and the shortfall is paid through the gateway, and a
    declined shortfall is INSUFFICIENT_FUNDS.
    """
    line = lock_line(ctx.session, msisdn)
    if line.status == "cancelled":
        raise DomainError("ALREADY_CANCELLED", f"line {msisdn} is cancelled")
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
    amount = owed.amount_fen
    gift_ok = "penalty" in values.gift_may_pay
    use_balance = pay_with != "payment"
    from_gift = min(line.gift_fen, amount) if gift_ok and use_balance else 0
    from_cash = min(line.cash_fen, amount - from_gift) if use_balance else 0
    shortfall = amount - from_gift - from_cash
    if shortfall and pay_with == "balance":
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
            if err.code != "PAYMENT_DECLINED" or pay_with == "payment":
                raise
            raise DomainError(
                "INSUFFICIENT_FUNDS",
                f"the balance covers {yuan(from_gift + from_cash)} of the {yuan(amount)} "
                f"penalty and the payment of {yuan(shortfall)} was declined",
                penalty_fen=amount,
                shortfall_fen=shortfall,
                reason=err.extra.get("reason"),
            ) from err
    billing.post_charge(ctx, line, "penalty", amount, ref=ref)
    settled = billing.settle_from_balances(
        ctx, line, amount - shortfall, gift_allowed=gift_ok, cash_allowed=use_balance, ref=ref
    )
    if (settled.from_gift, settled.from_cash) != (from_gift, from_cash):
        raise InvariantViolated(f"penalty settled {settled} differs from its quote")
    if taken is not None:
        billing.settle_from_payment(ctx, line, taken, ref=ref)
    _close(ctx, line, contract, owed, settled.from_cash, settled.from_gift, shortfall)
    return TerminationResult(
        contract_ref,
        amount,
        settled.from_cash,
        settled.from_gift,
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
