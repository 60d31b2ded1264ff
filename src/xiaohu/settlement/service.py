"""Monthly settlement between provinces: read the dues from the ledger, net them, post the
clearing, keep the answer.

The dues of a period are what the ledger says: the movements on every `due_to:{P}:{H}` account
(P owes H) in journal transactions posted in that Asia/Shanghai month, other than settlements.
Each province's clearing is a transaction of its own books only: its `due_to` accounts debited
and its `due_from` accounts credited by the period's amounts, the difference on its
`settlement_bank:{P}` account (what it is to pay or to receive by the transfers).

A national deployment (README, "Across nodes"): each node's ledger holds the books of its own
provinces, so the dues are gathered from every node (a `due_to:{P}:{H}` account is in P's books
only: the sum over nodes counts each once), the settlement record stays on the default node
(where the run's request runs), and each province's clearing goes to its node as a message
(`settlement.clearing`). A node that does not answer makes the run `503 NODE_UNAVAILABLE`
before anything is written: a settlement of part of the dues would be wrong for good.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.cancellation.cycle import check_period
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR
from xiaohu.kit.clock import parse_period, period_bounds, start_of_day
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.scatter import every_node
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import Posting, credit, debit, due_from, due_to
from xiaohu.ledger.service import Txn, post_many
from xiaohu.runtime import Context
from xiaohu.settlement import rules
from xiaohu.settlement.clearing import send_clearing
from xiaohu.settlement.models import Settlement

KIND = "settlement.clear"
Step = Callable[[str], None]


def _noop(_step: str) -> None:
    return None


def period_instants(period: str) -> tuple[dt.datetime, dt.datetime]:
    """The period's first instant and the next period's (Shanghai midnights); PERIOD_INVALID
    for a malformed period."""
    try:
        year, _ = parse_period(period)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
        first, after = period_bounds(period)
    except ValueError as exc:
        raise DomainError(
            "PERIOD_INVALID",
            f"period {period!r}: {exc}",
            errors=[{"field": "period", "reason": str(exc)}],
        ) from exc
    return start_of_day(first), start_of_day(after)


def dues_of(ctx: Context, period: str) -> dict[tuple[str, str], int]:
    """(payer, receiver) -> fen: the period's movement on each `due_to` account, settlements
    left out; of every node's books in a national deployment."""
    start, end = period_instants(period)
    if not ctx.runtime.nodes.national:
        return dues_in(ctx.session, start, end)
    answers = every_node(ctx.runtime, lambda s: dues_in(s, start, end), session=ctx.session)
    out: dict[tuple[str, str], int] = defaultdict(int)
    for dues in answers.values():
        for pair, amount in dues.items():
            out[pair] += amount
    return dict(sorted((pair, a) for pair, a in out.items() if a))


def dues_in(session: Session, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
    """The dues of [start, end) in `session`'s database: one aggregate over the period's
    journal (the benchmark times it)."""
    amount = func.sum(JournalEntry.credit_fen - JournalEntry.debit_fen)
    rows = session.execute(
        select(JournalEntry.account_code, amount)
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            JournalEntry.account_code.like("due\\_to:%", escape="\\"),
            JournalTransaction.posted_at >= start,
            JournalTransaction.posted_at < end,
            JournalTransaction.kind != KIND,
        )
        .group_by(JournalEntry.account_code)
    ).all()
    out: dict[tuple[str, str], int] = {}
    for code, total in rows:
        _, payer, receiver = code.split(":")
        if int(total or 0):
            out[payer, receiver] = int(total)
    return dict(sorted(out.items()))


def dues_answer(ctx: Context, period: str) -> dict[str, Any]:
    dues = dues_of(ctx, period)
    return {
        "period": period,
        "dues": [{"from": p, "to": h, "amount_fen": a} for (p, h), a in dues.items()],
        "total_fen": sum(dues.values()),
    }


def find(ctx: Context, period: str) -> dict[str, Any]:
    """The settled period's answer; SETTLEMENT_NOT_FOUND before its run."""
    period_instants(period)
    runtime = ctx.runtime
    default = runtime.nodes.default
    if runtime.node == default:
        row = ctx.session.get(Settlement, period)
        result = None if row is None else row.result
    else:  # a province's statement runs on its node; the record is national (default node)
        with transaction(runtime.sessions_of(default), readonly=True) as session:
            row = session.get(Settlement, period)
            result = None if row is None else row.result
    if result is None:
        raise DomainError("SETTLEMENT_NOT_FOUND", f"period {period} has not been settled")
    return result


def settle(ctx: Context, period: str, *, step: Step = _noop) -> dict[str, Any]:
    """Settle `period` once: the answer, posted; a settled period's answer again, unchanged.
    `step` is told each stage as it ends (the command's progress bar)."""
    check_period(period, ctx.now())
    runtime = ctx.runtime
    default = runtime.nodes.default
    if runtime.node != default:
        # The record is national: a run that landed on a province's node (a request carrying
        # a line's token) settles on the default node all the same, in a transaction of its
        # own, so two runs can never write two records on two nodes.
        with transaction(runtime.sessions_of(default)) as session:
            there = Context(runtime.on_node(default), session, ctx.clock, ctx.actor)
            return settle(there, period, step=step)
    done = ctx.session.get(Settlement, period)
    if done is not None:
        return done.result
    dues = dues_of(ctx, period)
    step("dues")
    settings = ctx.settings
    netting = rules.settle(
        dues,
        seconds=settings.settlement_solver_seconds,
        workers=settings.settlement_solver_workers,
    )
    step("netting")
    at = ctx.now()
    result = answer(period, dues, netting, at)
    row = Settlement(
        period=period,
        settled_at=at,
        gross_fen=result["gross_fen"],
        method=netting.method,
        optimal=netting.optimal,
        transfer_count=len(netting.transfers),
        result=result,
    )
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:  # another run settled it meanwhile: its answer stands
        if row in ctx.session:
            ctx.session.expunge(row)
        return find(ctx, period)
    national = ctx.runtime.nodes.national
    for province, txn in clearing(period, dues).items():
        if national:  # posted in the province's books on its node, once (`clearing`)
            send_clearing(ctx, province, txn)
        else:
            post_many(ctx.session, [txn], at=at, province_code=province)
    step("posted")
    return result


def answer(
    period: str, dues: rules.Dues, netting: rules.Netting, at: dt.datetime
) -> dict[str, Any]:
    """The run's object (API.md), with how the transfers were found."""
    return {
        "period": period,
        "gross_fen": sum(dues.values()),
        "transfers": [t.as_json() for t in netting.transfers],
        "statements": [s.as_json() for s in rules.statements(dues)],
        "method": netting.method,
        "optimal": netting.optimal,
        "greedy_transfers": netting.greedy_transfers,
        "exact_transfers": netting.exact_transfers,
        "exact_status": netting.solver_status,
        "transfer_bound": netting.bound,
        "settled_at": at.isoformat(),
    }


def _leg(account: str, amount: int) -> Posting:
    """A debit of `amount`, or a credit of −amount when it is negative."""
    return debit(account, amount) if amount >= 0 else credit(account, -amount)


def clearing(period: str, dues: rules.Dues) -> dict[str, Txn]:
    """Per province, the transaction that clears its period's dues against its settlement
    bank account: its own accounts only, so each province's books balance on their own."""
    legs: dict[str, list[Posting]] = defaultdict(list)
    net: dict[str, int] = defaultdict(int)
    for (payer, receiver), amount in dues.items():
        legs[payer].append(_leg(due_to(payer, receiver), amount))
        legs[receiver].append(_leg(due_from(receiver, payer), -amount))
        net[payer] -= amount
        net[receiver] += amount
    memo = f"inter-province settlement {period}"
    return {
        p: Txn(KIND, [*legs[p], _leg(f"settlement_bank:{p}", net[p])], f"settlement:{period}", memo)
        for p in sorted(legs)
    }


def ledger_view(ctx: Context, period: str, province: str) -> dict[str, Any]:
    """What the province's own books say of the period, for its statement: per other
    province, the period's movement on its `due_to` (payable) and `due_from` (receivable)
    accounts before the settlement, what the settlement cleared, and the settlement bank
    account's movement. Read on the node holding the province's books."""
    runtime = ctx.runtime
    node = runtime.node_of(province)
    if node == runtime.node:
        return books_view(ctx.session, period, province)
    with transaction(runtime.sessions_of(node), readonly=True) as session:
        return books_view(session, period, province)


def books_view(session: Session, period: str, province: str) -> dict[str, Any]:
    """`ledger_view` in `session`'s database."""
    start, end = period_instants(period)
    side = func.sum(JournalEntry.credit_fen - JournalEntry.debit_fen)
    settled = JournalTransaction.kind == KIND
    in_period = (JournalTransaction.posted_at >= start) & (JournalTransaction.posted_at < end)
    ref = JournalTransaction.ref == f"settlement:{period}"
    rows = session.execute(
        select(JournalEntry.account_code, settled, side)
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            JournalEntry.account_code.like(f"due\\_%:{province}:%", escape="\\")
            | (JournalEntry.account_code == f"settlement_bank:{province}"),
            (in_period & ~settled) | (settled & ref),
        )
        .group_by(JournalEntry.account_code, settled)
    ).all()
    payable: dict[str, int] = defaultdict(int)
    receivable: dict[str, int] = defaultdict(int)
    cleared_payable = cleared_receivable = bank = 0
    for code, is_settlement, credit_less_debit in rows:
        amount = int(credit_less_debit or 0)
        stem, _, rest = code.partition(":")
        other = rest.partition(":")[2]
        if stem == "settlement_bank":
            bank += -amount
        elif stem == "due_to" and is_settlement:
            cleared_payable += -amount
        elif stem == "due_to":
            payable[other] += amount
        elif is_settlement:
            cleared_receivable += amount
        else:
            receivable[other] += -amount
    return {
        "payable": dict(sorted(payable.items())),
        "receivable": dict(sorted(receivable.items())),
        "cleared_payable_fen": cleared_payable,
        "cleared_receivable_fen": cleared_receivable,
        "settlement_bank_fen": bank,
    }
