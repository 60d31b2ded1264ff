"""Issuing a period's monthly bills: set-based SQL over a chunk of lines at a time.

`close-cycle` calls `issue_chunk` for each range of line ids, one transaction a chunk (the
run's cursor is recorded in the same transaction, `scheduling`). A chunk is a dozen statements
whatever its size: bills inserted from a SELECT over the lines (`monthly_rules` says who gets
which bill), usage marked billed, the bills paid from the balance by one UPDATE, the ledger
written as one journal transaction per province and kind with one entry per line and leg and one
aggregated revenue leg, one SMS per bill into the outbox, and the lines' balances moved by one
UPDATE. The policy values are bound parameters; provinces whose billing values agree share
one pass (normally all of them).

Ledger of a bill, netted per line (the same balances as posting the charge and then its
payment): Dr subscriber_cash(line) what cash paid, Dr subscriber_gift(line) what gift paid,
Dr receivables(line) what is still owed / Cr revenue the bills' total.

Safe to repeat: a bill is inserted only where (line, period, kind) has none; usage, payment,
postings, SMS and balances touch only the bills this very chunk inserted (ids above the
chunk's watermark), so a chunk that commits does everything once and one that rolls back
does nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    null,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from xiaohu.billing.models import Bill, UsageRecord
from xiaohu.billing.monthly_rules import MonthlyKind, Period
from xiaohu.kit.db import OUTBOX_WRITTEN, UTCDateTime
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.service import ensure_accounts
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage, OutboxTopic
from xiaohu.policy.schema import Values

CHUNK = 50_000  # lines a transaction
SMS_KIND = "bill.issued"
TXN_KIND = "bill.monthly"

_B: Table = Bill.__table__  # type: ignore[assignment]
_L: Table = Line.__table__  # type: ignore[assignment]
_U: Table = UsageRecord.__table__  # type: ignore[assignment]
# The contracts' columns a monthly minimum reads (`contracts` sits above billing: its table
# is named here, not imported).
_C = table(
    "contracts",
    column("line_id"),
    column("kind"),
    column("status"),
    column("starts_on", Date),
    column("ends_on", Date),
    column("monthly_minimum_fen"),
)
_T: Table = JournalTransaction.__table__  # type: ignore[assignment]
_E: Table = JournalEntry.__table__  # type: ignore[assignment]
_O: Table = OutboxMessage.__table__  # type: ignore[assignment]
_KINDS = (MonthlyKind.CYCLE.value, MonthlyKind.RETENTION.value)


@dataclass(frozen=True)
class Terms:
    """The policy values a monthly bill depends on; provinces with equal terms share a pass."""

    bill_due_day: int
    retention_fee_fen: int
    gift_plan_fee: bool
    gift_usage: bool
    gift_retention_fee: bool

    @classmethod
    def of(cls, values: Values) -> Terms:
        may = set(values.gift_may_pay)
        return cls(
            values.bill_due_day,
            values.retention_fee_fen,
            "plan_fee" in may,
            "usage" in may,
            "retention_fee" in may,
        )


COUNTS = (
    "bills_issued",
    "bills_paid",
    "billed_fen",
    "paid_from_cash_fen",
    "paid_from_gift_fen",
    "unpaid_fen",
    "sms",
)


@dataclass
class Counts:
    """What a chunk did (the names of `COUNTS`)."""

    bills_issued: int = 0
    bills_paid: int = 0
    billed_fen: int = 0
    paid_from_cash_fen: int = 0
    paid_from_gift_fen: int = 0
    unpaid_fen: int = 0
    sms: int = 0

    def add(self, other: Counts) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_to(self, report: dict[str, Any]) -> None:
        for name in COUNTS:
            report[name] = int(report.get(name, 0)) + getattr(self, name)


def terms_by_province(
    provinces: Iterable[str], policy_for: Any, day: dt.date
) -> dict[Terms, list[str]]:
    """Group provinces by their billing terms on `day` (`policy_for(code, day) -> Values`)."""
    groups: dict[Terms, list[str]] = {}
    for code in sorted(set(provinces)):
        groups.setdefault(Terms.of(policy_for(code, day)), []).append(code)
    return groups


def line_id_span(session: Session) -> tuple[int, int]:
    """The smallest and largest line id (0, -1 without lines)."""
    lo, hi = session.execute(select(func.min(_L.c.id), func.max(_L.c.id))).one()
    return (0, -1) if lo is None else (int(lo), int(hi))


def provinces(session: Session) -> list[str]:
    return sorted(str(p) for p in session.scalars(select(_L.c.province_code).distinct()))


def _in(column: Any, codes: list[str], everyone: bool) -> Any:
    """The provinces of a group (no condition when one group holds them all)."""
    return true() if everyone else column.in_(codes)


def _insert(conn: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_B)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_B)


def _least(a: Any, b: Any) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _positive(a: Any) -> ColumnElement[Any]:
    return case((a > 0, a), else_=0)


def _yuan(fen: Any) -> ColumnElement[Any]:
    """'¥129.00' in SQL, the digits of `monthly_rules.fen_text`."""
    return (
        literal("¥")
        + cast(fen // 100, String)
        + literal(".")
        + cast((fen % 100) // 10, String)
        + cast(fen % 10, String)
    )


def issue_chunk(
    session: Session,
    period: Period,
    lo: int,
    hi: int,
    groups: dict[Terms, list[str]],
    *,
    now: dt.datetime,
    closes_at: dt.datetime,
) -> Counts:
    """Issue `period`'s bills to lines with `lo <= id < hi`, in the caller's transaction."""
    conn = session.connection()
    watermark = int(conn.execute(select(func.coalesce(func.max(_B.c.id), 0))).scalar_one())
    counts = Counts()
    only_group = len(groups) == 1
    for terms, codes in groups.items():
        lines = and_(_L.c.id >= lo, _L.c.id < hi, _in(_L.c.province_code, codes, only_group))
        new = and_(
            _B.c.id > watermark,
            _B.c.line_id >= lo,
            _B.c.line_id < hi,
            _B.c.period == period.name,
            _B.c.kind.in_(_KINDS),
            _in(_B.c.province_code, codes, only_group),
        )
        # the same bills joined to their lines; the lines' own id range lets the planner walk
        # the chunk from either side (never every line against the chunk's bills)
        joined = and_(new, _B.c.line_id == _L.c.id, _L.c.id >= lo, _L.c.id < hi)
        due = period.due_on(terms.bill_due_day)
        _insert_bills(conn, period, lo, hi, lines, terms, now=now, closes_at=closes_at, due=due)
        _bill_usage(conn, new, lo, hi, closes_at)
        counts_now = _post(
            session, new, joined, now=now, memo=f"{period.name} bills, lines {lo}-{hi - 1}"
        )
        if counts_now.bills_issued:
            _sms(session, joined, period, due, now)
            counts_now.sms = counts_now.bills_issued
        counts.add(counts_now)
        _move_balances(conn, joined, now)
    return counts


def _insert_bills(
    conn: Any,
    period: Period,
    lo: int,
    hi: int,
    lines: ColumnElement[bool],
    terms: Terms,
    *,
    now: dt.datetime,
    closes_at: dt.datetime,
    due: dt.date,
) -> None:
    """Insert the chunk's bills already paid from the balance (what the balance pays is known
    when the bill is written, so the bill is written once)."""
    opened = or_(_L.c.opened_on.is_(None), _L.c.opened_on <= period.last)
    usage = (
        select(_U.c.line_id, func.sum(_U.c.amount_fen).label("fen"))
        .where(
            _U.c.line_id >= lo,
            _U.c.line_id < hi,
            _U.c.billed.is_(False),
            _U.c.occurred_at < closes_at,
        )
        .group_by(_U.c.line_id)
        .subquery()
    )
    minimum = (
        select(_C.c.line_id, func.sum(_C.c.monthly_minimum_fen).label("fen"))
        .where(
            _C.c.line_id >= lo,
            _C.c.line_id < hi,
            _C.c.status == "active",  # any kind: what the contract agreed keeps being charged
            or_(_C.c.starts_on.is_(None), _C.c.starts_on <= period.last),
            or_(_C.c.ends_on.is_(None), _C.c.ends_on >= period.first),
        )
        .group_by(_C.c.line_id)
        .subquery()
    )
    cycle = or_(
        _L.c.status == "active",
        and_(_L.c.status == "arrears_suspended", _L.c.arrears_since >= period.first),
        and_(_L.c.status == "retained", _L.c.retention_starts_on > period.first),
    )
    retention = and_(
        _L.c.status == "retained",
        or_(_L.c.retention_starts_on.is_(None), _L.c.retention_starts_on <= period.first),
    )
    fee = literal(terms.retention_fee_fen, Integer)
    for kind, who, extra, base in (
        (MonthlyKind.CYCLE, cycle, usage, _L.c.plan_monthly_fee_fen),
        (MonthlyKind.RETENTION, retention, minimum, fee),
    ):
        src = (
            select(
                _L.c.id.label("line_id"),
                _L.c.province_code.label("province_code"),
                (base + func.coalesce(extra.c.fen, 0)).label("amount"),
                _L.c.plan_monthly_fee_fen.label("plan"),
                _L.c.cash_fen.label("cash"),
                _L.c.gift_fen.label("gift"),
            )
            .select_from(_L.outerjoin(extra, extra.c.line_id == _L.c.id))
            .where(lines, opened, who)
            .subquery()
        )
        if kind is MonthlyKind.CYCLE:
            payable: Any = (src.c.plan if terms.gift_plan_fee else literal(0)) + (
                (src.c.amount - src.c.plan) if terms.gift_usage else literal(0)
            )
        else:
            payable = literal(terms.retention_fee_fen if terms.gift_retention_fee else 0)
        from_cash = _least(_positive(src.c.cash), src.c.amount)
        from_gift = _positive(
            _least(_positive(src.c.gift), _least(payable, src.c.amount - from_cash))
        )
        paid = from_cash + from_gift
        rows = select(
            src.c.line_id,
            src.c.province_code,
            literal(period.name, String),
            literal(kind.value, String),
            src.c.amount,
            paid,
            literal(due, Date),
            case((paid >= src.c.amount, "paid"), else_="unpaid"),
            literal(now, UTCDateTime()),
        ).where(src.c.amount > 0)
        # a bill the line already has for the period (an earlier run) is left alone: the
        # unique key, not an anti-join (whose plan degrades while the table fills)
        conn.execute(
            _insert(conn)
            .from_select(
                ["line_id", "province_code", "period", "kind", "amount_fen", "paid_fen",
                 "due_on", "status", "created_at"],
                rows,
            )
            .on_conflict_do_nothing(index_elements=["line_id", "period", "kind"])
        )  # fmt: skip


def _bill_usage(
    conn: Any, new: ColumnElement[bool], lo: int, hi: int, closes_at: dt.datetime
) -> None:
    """Usage counted in this chunk's cycle bills: billed, with the bill's id."""
    bill = (
        select(_B.c.id)
        .where(new, _B.c.kind == MonthlyKind.CYCLE.value, _B.c.line_id == _U.c.line_id)
        .scalar_subquery()
    )
    conn.execute(
        _U.update()
        .where(
            _U.c.line_id >= lo,
            _U.c.line_id < hi,
            _U.c.billed.is_(False),
            _U.c.occurred_at < closes_at,
            bill.is_not(None),
        )
        .values(billed=True, bill_id=bill)
    )


def _from_cash() -> ColumnElement[Any]:
    """What cash pays of a new bill (the line's balance before this chunk moves it)."""
    return _least(_positive(_L.c.cash_fen), _B.c.amount_fen)


def _post(
    session: Session,
    new: ColumnElement[bool],
    joined: ColumnElement[bool],
    *,
    now: dt.datetime,
    memo: str,
) -> Counts:
    """One journal transaction per province and kind of the chunk's new bills: a leg per line
    for cash, gift and what is owed, and the revenue in one leg."""
    conn = session.connection()
    from_cash = _from_cash()
    rows = conn.execute(
        select(
            _B.c.province_code,
            _B.c.kind,
            func.count(),
            func.sum(_B.c.amount_fen),
            func.sum(_B.c.paid_fen),
            func.sum(from_cash),
            func.sum(case((_B.c.status == "paid", 1), else_=0)),
        )
        .where(joined)
        .group_by(_B.c.province_code, _B.c.kind)
        .order_by(_B.c.province_code, _B.c.kind)
    ).all()
    counts = Counts()
    if not rows:
        return counts
    for _, _, n, amount, paid, cash, fully in rows:
        counts.bills_issued += int(n)
        counts.bills_paid += int(fully)
        counts.billed_fen += int(amount)
        counts.paid_from_cash_fen += int(cash)
        counts.paid_from_gift_fen += int(paid) - int(cash)
        counts.unpaid_fen += int(amount) - int(paid)
    codes = {
        f"{account}:{p}"
        for p, *_ in rows
        for account in ("subscriber_cash", "subscriber_gift", "receivables", "revenue")
    }
    ensure_accounts(session, codes)
    keys: Sequence[tuple[str, str]] = [(str(p), str(k)) for p, k, *_ in rows]
    ids = [
        int(i)
        for i in conn.execute(
            _T.insert().returning(_T.c.id, sort_by_parameter_order=True),
            [
                {"kind": f"{TXN_KIND}.{k}", "memo": memo, "ref": None, "province_code": p,
                 "posted_at": now}
                for p, k in keys
            ],
        ).scalars()
    ]  # fmt: skip
    # each bill's journal transaction: by kind, then by province (simple CASEs: a lookup per
    # row that no join order can turn into a scan of the chunk per transaction)
    by_kind: dict[str, dict[str, int]] = {}
    for (p, k), i in zip(keys, ids, strict=True):
        by_kind.setdefault(k, {})[p] = i
    txn_id = case(
        {
            k: case(
                {p: literal(i) for p, i in provinces.items()},
                value=_B.c.province_code,
                else_=null(),
            )
            for k, provinces in by_kind.items()
        },
        value=_B.c.kind,
        else_=null(),
    )

    def leg(account: str, amount: ColumnElement[Any]) -> Any:
        return select(
            txn_id, literal(f"{account}:") + _B.c.province_code, _B.c.line_id, amount, literal(0)
        ).where(joined, amount > 0)

    cols = ["transaction_id", "account_code", "line_id", "debit_fen", "credit_fen"]
    per_line = union_all(
        leg("subscriber_cash", from_cash),
        leg("subscriber_gift", _B.c.paid_fen - from_cash),
        leg("receivables", _B.c.amount_fen - _B.c.paid_fen),
    )
    conn.execute(_E.insert().from_select(cols, per_line))
    revenue = (
        select(
            txn_id,
            literal("revenue:") + _B.c.province_code,
            null(),
            literal(0),
            func.sum(_B.c.amount_fen),
        )
        .where(new)
        .group_by(_B.c.province_code, _B.c.kind)
    )
    conn.execute(_E.insert().from_select(cols, revenue))
    return counts


def _sms(
    session: Session, joined: ColumnElement[bool], period: Period, due: dt.date, now: dt.datetime
) -> None:
    """One SMS a bill, into the outbox (the payload of `notifications.service.sms_message`)."""
    conn = session.connection()
    text = (
        literal(f"【账单】{period.first.year}年{period.first.month}月账单")
        + _yuan(_B.c.amount_fen)
        + literal("，已从余额扣缴")
        + _yuan(_B.c.paid_fen)
        + literal("，尚欠")
        + _yuan(_B.c.amount_fen - _B.c.paid_fen)
        + literal(f"，缴费截止{due.isoformat()}。")
    )
    build = func.jsonb_build_object if conn.dialect.name == "postgresql" else func.json_object
    payload = build("to", _L.c.msisdn, "text", text, "kind", SMS_KIND)
    rows = select(
        literal(OutboxTopic.SMS.value),
        payload,
        _B.c.province_code,
        literal(now, UTCDateTime()),
        literal(0),
        literal("pending"),
    ).where(joined)
    conn.execute(
        _O.insert().from_select(
            ["topic", "payload", "province_code", "created_at", "attempts", "status"], rows
        )
    )
    session.info[OUTBOX_WRITTEN] = True


def _move_balances(conn: Any, joined: ColumnElement[bool], now: dt.datetime) -> None:
    """The balances the bills used, off the lines (with their sub-ledgers, `_post`)."""
    from_cash = _least(_positive(_L.c.cash_fen), _B.c.amount_fen)
    conn.execute(
        _L.update()
        .where(joined, _B.c.paid_fen > 0)
        .values(
            cash_fen=_L.c.cash_fen - from_cash,
            gift_fen=_L.c.gift_fen - (_B.c.paid_fen - from_cash),
            version=_L.c.version + 1,
            updated_at=now,
        )
    )
