"""A refund transferred to another line of the same owner, and the cash a store of another
province takes in for a line: where the money lands when two provinces are involved.

A transfer between two lines of one province is one transaction of that province, the target's
balance raised at once. To a line of another province T it is a due (every journal transaction
touches one province's accounts): the cancelled line's province P posts Dr `subscriber_cash:P`
/ Cr `due_to:P:T` in its request and sends T a message; T applies it, Dr `due_from:T:P` / Cr
`subscriber_cash:T` on the target line, whose balance rises then (`interprovince.dues` says why
the line's home posts in the request and the other province by message).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from xiaohu.interprovince.rules import MalformedMessage, Message
from xiaohu.interprovince.service import Applier, send
from xiaohu.kit.money import yuan
from xiaohu.ledger.rules import Posting, credit, debit, due_from, due_to
from xiaohu.ledger.service import post
from xiaohu.lines.models import Line
from xiaohu.lines.service import lock_line
from xiaohu.runtime import Context

TRANSFER_IN = "interprovince.refund_transfer"  # message kind and the target province's journal


def transfer_leg(ctx: Context, *, home: str, target: Line, amount_fen: int, ref: str) -> Posting:
    """The credit leg of P's refund transaction for `amount_fen` going to `target`."""
    if target.province_code == home:
        target.cash_fen += amount_fen
        target.updated_at = ctx.now()
        return credit(f"subscriber_cash:{home}", amount_fen, target.id)
    t = target.province_code
    if amount_fen > 0:
        payload = {"msisdn": target.msisdn, "amount_fen": amount_fen, "ref": ref,
                   "home_province": home}  # fmt: skip
        send(ctx, t, TRANSFER_IN, payload, from_province=home)
    return credit(due_to(home, t), amount_fen)


def apply_transfer_in(session: Session, message: Message, now: dt.datetime) -> None:
    """T's side: the target line's cash raised, owed to it by P (Dr due_from:T:P)."""
    p = message.payload
    amount, home = p.get("amount_fen"), str(p.get("home_province"))
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise MalformedMessage(f"{message.kind}: amount_fen must be a positive integer")
    line = lock_line(session, str(p.get("msisdn")))
    t = message.to_province
    if line.province_code != t or home == t:
        raise MalformedMessage(f"{message.kind}: the line is not of province {t}")
    post(
        session,
        TRANSFER_IN,
        [debit(due_from(t, home), amount), credit(f"subscriber_cash:{t}", amount, line.id)],
        at=message.sent_at,
        ref=str(p.get("ref")),
        memo=f"refund transfer of {yuan(amount)} from province {home}",
        province_code=t,
    )
    line.cash_fen += amount
    line.updated_at = now
    session.flush()


APPLIERS: tuple[tuple[str, Applier], ...] = ((TRANSFER_IN, apply_transfer_in),)
