"""A province's clearing of a settled period, posted in its own books on its own node.

One database: the settlement run posts every province's clearing in its own transaction, as it
always did. A national deployment keeps the settlement record on the default node while each
province's books are on the node that holds it, so the run sends each province its clearing as
a message between provinces (kind `settlement.clearing`, in the run's transaction: the outbox),
and the province's node applies it once (the inbox remembers the message), dated when the run
settled (the message's `sent_at`), whatever the hour it arrives.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from xiaohu.interprovince.rules import MalformedMessage, Message
from xiaohu.interprovince.service import Applier, send
from xiaohu.ledger.rules import Posting
from xiaohu.ledger.service import Txn, post_many
from xiaohu.runtime import Context

CLEARING = "settlement.clearing"  # the message's kind (the journal's stays `settlement.clear`)


def send_clearing(ctx: Context, province: str, txn: Txn) -> Message:
    """Address `province` its clearing transaction `txn`: posted when its node applies it."""
    payload = {
        "kind": txn.kind,
        "ref": txn.ref,
        "memo": txn.memo,
        "postings": [[p.account, p.debit_fen, p.credit_fen] for p in txn.postings],
    }
    return send(ctx, province, CLEARING, payload)


def _read(message: Message) -> Txn:
    """The clearing transaction a message carries, checked: its legs are the receiving
    province's own accounts (a clearing touches one province's books only)."""
    p: dict[str, Any] = message.payload
    try:
        kind, ref, memo, raw = str(p["kind"]), p["ref"], p["memo"], p["postings"]
    except KeyError as exc:
        raise MalformedMessage(f"{CLEARING}: missing {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise MalformedMessage(f"{CLEARING}: postings must be a non-empty list")
    legs = []
    for leg in raw:
        if not (isinstance(leg, list) and len(leg) == 3 and isinstance(leg[0], str)):
            raise MalformedMessage(f"{CLEARING}: a posting is [account, debit_fen, credit_fen]")
        account, debit_fen, credit_fen = leg
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (debit_fen, credit_fen)):
            raise MalformedMessage(f"{CLEARING}: amounts must be integers (fen)")
        if account.split(":")[1:2] != [message.to_province]:
            raise MalformedMessage(f"{CLEARING}: {account} is not of {message.to_province}")
        legs.append(Posting(account, debit_fen=debit_fen, credit_fen=credit_fen))
    return Txn(kind, legs, None if ref is None else str(ref), None if memo is None else str(memo))


def apply_clearing(session: Session, message: Message, now: dt.datetime) -> None:
    """Post the province's clearing in its books (an unbalanced one raises before any write)."""
    post_many(session, [_read(message)], at=message.sent_at, province_code=message.to_province)


# This module's appliers, for whoever assembles a process (`xiaohu.assembly`).
APPLIERS: tuple[tuple[str, Applier], ...] = ((CLEARING, apply_clearing),)
