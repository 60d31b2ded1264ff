"""Cash a store hands over or takes in for a line of another province: a due in both books.

Which side is posted where, and why: the line's home province P owns the line (its balances,
bills and sub-ledger), so the request that moves the line's money runs in P, the way it will in a
national deployment, where the request is served by P's database. P posts its side there and
then; the store's province H keeps the drawer, so H's side is a message H applies for its drawer:

- a cash refund from H's drawer for P's line (P owes H): in P's request, Dr `subscriber_cash:P` /
  Cr `due_to:P:H` (the refund's own transaction); in H, from the message, Dr `due_from:H:P` /
  Cr `store_drawer:<store>` (`interprovince.cash_refund`);
- cash H's counter takes in for P's line (H owes P): in P's request, Dr `due_from:P:H` / Cr
  `subscriber_cash:P` or `receivables:P` (the payment's own transaction); in H, from the
  message, Dr `store_drawer:<store>` / Cr `due_to:H:P` (`interprovince.cash_collected`).

Every journal transaction so touches one province's accounts; each province's books balance on
their own, and the two halves of a due match to the fen. Card payments go through P's gateway
and owe nothing to H. The whole amount is a due (API.md, "Cross-region work").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from xiaohu.interprovince.rules import MalformedMessage, Message
from xiaohu.interprovince.service import Applier, send
from xiaohu.ledger.rules import Posting, credit, debit, due_from, due_to, store_drawer
from xiaohu.ledger.service import post
from xiaohu.runtime import Context

CASH_REFUND = "interprovince.cash_refund"  # message kind and H's journal kind
CASH_COLLECTED = "interprovince.cash_collected"


def refund_leg(
    ctx: Context,
    *,
    home: str,
    store_code: str,
    store_province: str,
    amount_fen: int,
    ref: str,
    msisdn_masked: str,
) -> Posting:
    """The credit leg of P's refund transaction for cash handed over at `store_code`: the
    drawer in its own province; else `due_to:P:H`, and H is sent its drawer's side."""
    if store_province == home:
        return credit(store_drawer(store_code), amount_fen)
    if amount_fen > 0:
        _tell(ctx, CASH_REFUND, home, store_province, store_code, amount_fen, ref, msisdn_masked)
    return credit(due_to(home, store_province), amount_fen)


def collected_leg(
    ctx: Context,
    *,
    home: str,
    store_code: str,
    store_province: str,
    amount_fen: int,
    ref: str,
    msisdn_masked: str,
) -> Posting:
    """The debit leg of P's payment transaction for cash taken in at `store_code`: the drawer
    in its own province; else `due_from:P:H`, and H is sent its drawer's side."""
    if store_province == home:
        return debit(store_drawer(store_code), amount_fen)
    if amount_fen > 0:
        _tell(ctx, CASH_COLLECTED, home, store_province, store_code, amount_fen, ref,
              msisdn_masked)  # fmt: skip
    return debit(due_from(home, store_province), amount_fen)


def _tell(
    ctx: Context,
    kind: str,
    home: str,
    handling: str,
    store_code: str,
    amount_fen: int,
    ref: str,
    msisdn_masked: str,
) -> None:
    payload = {
        "store_code": store_code,
        "home_province": home,
        "amount_fen": amount_fen,
        "ref": ref,
        "msisdn_masked": msisdn_masked,
    }
    send(ctx, handling, kind, payload, from_province=home)


def _read(message: Message) -> tuple[str, str, int, str, str]:
    """(store, home province, amount, ref, masked number) of a cash message, checked."""
    p: dict[str, Any] = message.payload
    try:
        store, home, amount = str(p["store_code"]), str(p["home_province"]), p["amount_fen"]
        ref, masked = str(p["ref"]), str(p.get("msisdn_masked") or "")
    except KeyError as exc:
        raise MalformedMessage(f"{message.kind}: missing {exc}") from None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise MalformedMessage(f"{message.kind}: amount_fen must be a positive integer")
    # The drawer belongs to the receiving province (store codes begin with it), and a due is
    # between two provinces.
    if store[:2] != message.to_province or home == message.to_province:
        raise MalformedMessage(f"{message.kind}: store {store} is not a drawer of another's due")
    return store, home, amount, ref, masked


def apply_cash_refund(session: Session, message: Message, now: dt.datetime) -> None:
    """H's side of a cash refund it paid for P: Dr due_from:H:P / Cr its drawer. Dated when
    the cash moved (the message's `sent_at`), not when it arrived: both halves of a due fall in
    the same period, and the drawer's day is the day the cash left it."""
    store, home, amount, ref, masked = _read(message)
    h = message.to_province
    post(
        session,
        CASH_REFUND,
        [debit(due_from(h, home), amount), credit(store_drawer(store), amount)],
        at=message.sent_at,
        ref=ref,
        memo=masked or None,
        province_code=h,
    )


def apply_cash_collected(session: Session, message: Message, now: dt.datetime) -> None:
    """H's side of cash it took in for P: Dr its drawer / Cr due_to:H:P."""
    store, home, amount, ref, masked = _read(message)
    h = message.to_province
    post(
        session,
        CASH_COLLECTED,
        [debit(store_drawer(store), amount), credit(due_to(h, home), amount)],
        at=message.sent_at,
        ref=ref,
        memo=masked or None,
        province_code=h,
    )


# This module's appliers, for whoever assembles a process (`xiaohu.assembly`).
APPLIERS: tuple[tuple[str, Applier], ...] = (
    (CASH_REFUND, apply_cash_refund),
    (CASH_COLLECTED, apply_cash_collected),
)
