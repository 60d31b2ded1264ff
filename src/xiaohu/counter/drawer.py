"""A store drawer's end of day: what the cash in it should be, from the ledger.

The drawer is the ledger account `store_drawer:<code>` (an asset): cash taken at the counter
is debited to it, cash refunds handed over are credited. For another province's line the
drawer's side is posted when that province's message is applied (`interprovince.dues`): in
one database at once after the request (sandbox) or within moments (the delivery thread).
The report walks the day's journal entries on it (Asia/Shanghai day) to list each movement,
and reads the account's balance at the day's end separately; `reconciled` says the opening
plus the movements equals that balance to the fen, which is what the clerk's count is held against.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from xiaohu.counter.schemas import DrawerReportOut, MovementOut
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import start_of_day
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import store_drawer
from xiaohu.lines.models import Line
from xiaohu.runtime import Context
from xiaohu.stores.models import Store


def _balance_before(ctx: Context, account: str, at: dt.datetime) -> int:
    """Debit-normal balance of the account over every transaction posted before `at`."""
    row = ctx.session.execute(
        select(
            func.coalesce(func.sum(JournalEntry.debit_fen), 0),
            func.coalesce(func.sum(JournalEntry.credit_fen), 0),
        )
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(JournalEntry.account_code == account, JournalTransaction.posted_at < at)
    ).one()
    return int(row[0]) - int(row[1])


def _movements(
    ctx: Context, account: str, start: dt.datetime, end: dt.datetime
) -> list[MovementOut]:
    """The day's entries on the drawer, oldest first, each with the line it was for (the
    other leg of its transaction names the line's sub-ledger)."""
    other = aliased(JournalEntry)
    line_of = (
        select(func.min(other.line_id))
        .where(other.transaction_id == JournalEntry.transaction_id, other.line_id.is_not(None))
        .scalar_subquery()
    )
    rows = ctx.session.execute(
        select(
            JournalTransaction.posted_at,
            JournalTransaction.kind,
            JournalTransaction.ref,
            JournalTransaction.memo,
            JournalEntry.debit_fen,
            JournalEntry.credit_fen,
            Line.msisdn,
        )
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .outerjoin(Line, Line.id == line_of)
        .where(
            JournalEntry.account_code == account,
            JournalTransaction.posted_at >= start,
            JournalTransaction.posted_at < end,
        )
        .order_by(JournalTransaction.posted_at, JournalEntry.id)
    ).all()
    return [
        MovementOut(
            at=at,
            kind=kind,
            msisdn_masked=mask_msisdn(msisdn) if msisdn else _cross_region(kind, memo),
            amount_fen=int(dr) - int(cr),
            reference=ref,
        )
        for at, kind, ref, memo, dr, cr, msisdn in rows
    ]


def _cross_region(kind: str, memo: str | None) -> str | None:
    """A movement for another province's line names no line of this province's books: its
    message carried the number, masked, as the memo (`interprovince.dues`)."""
    return memo if kind.startswith("interprovince.") else None


def report(ctx: Context, store_code: str, day: dt.date) -> DrawerReportOut:
    """The drawer's day: opening, cash in, cash out, closing, and the ledger's balance."""
    if ctx.session.get(Store, store_code) is None:
        raise DomainError("STORE_NOT_FOUND", f"no store {store_code!r}")
    account = store_drawer(store_code)
    start, end = start_of_day(day), start_of_day(day + dt.timedelta(days=1))
    opening = _balance_before(ctx, account, start)
    movements = _movements(ctx, account, start, end)
    cash_in = sum(m.amount_fen for m in movements if m.amount_fen > 0)
    cash_out = -sum(m.amount_fen for m in movements if m.amount_fen < 0)
    closing = opening + cash_in - cash_out
    ledger = _balance_before(ctx, account, end)
    return DrawerReportOut(
        store_code=store_code,
        date=day,
        opening_fen=opening,
        cash_in_fen=cash_in,
        cash_out_fen=cash_out,
        closing_fen=closing,
        ledger_balance_fen=ledger,
        reconciled=closing == ledger,
        movements=movements,
    )
