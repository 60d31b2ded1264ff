"""The automatic cancellation: lines whose arrears clock has run the province's months.

For a range of lines, in the caller's transaction, with few statements whatever the count:
one SELECT of the lines due (and one of their unpaid bills), then multi-row inserts and
updates. Each line gets what a cancellation at the counter gets, so everything reading
cancellations reads these too (the recycled-number check, the receipt, the reclaim):

- a `Cancellation` of channel `auto`: no final charges, no reserve, no undo window (nobody
  asked for it: the former owner may reclaim the number during quarantine instead), the
  account `closed` at once (a suspended line has no late usage to wait for);
- the gift balance forfeited (Dr subscriber_gift / Cr gift_forfeited);
- any cash still held paid to the unpaid bills, oldest first (Dr subscriber_cash / Cr
  receivables), and what is left after them refunded as the cycle close refunds: back the
  original way through the gateway (a `Refund` of kind `now`, owed in refunds_payable until
  the payout is confirmed; Line.cash_fen and gift_fen end at zero with their sub-ledgers);
- the debt as the province's `auto_cancel_debt` says: `receivable` keeps the unpaid bills as
  the closed account's arrears (owner-scoped arrears see them); `write_off` posts Dr
  bad_debt / Cr receivables and marks the bills `written_off`;
- the line `cancelled`, the number into quarantine for the province's `quarantine_days`
  (`numbers.service.quarantine`'s row), a `deprovision` order, an SMS to the owner's oldest
  other active line (or the line's audit trail says it was not sent), an audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Date, Table, bindparam, case, select, update

from xiaohu.billing.models import Bill
from xiaohu.billing.payouts import TOPIC as PAYOUT_TOPIC
from xiaohu.billing.payouts import payable_leg, refunds_to_route
from xiaohu.billing.rules import BillStatus, RefundKind, RefundRoute, RefundRouteKind
from xiaohu.cancellation.execute import REFUND_KIND
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import AccountStatus, CancellationStatus
from xiaohu.invoices import service as invoices
from xiaohu.kit.clock import period_of
from xiaohu.kit.ids import new_id, reference
from xiaohu.ledger.rules import credit, debit
from xiaohu.ledger.service import Txn, post_many
from xiaohu.lifecycle import rules
from xiaohu.lifecycle.batch import (
    LINES,
    Batch,
    Terms,
    clock_started_by,
    insert_rows,
    other_active_lines,
)
from xiaohu.lines.addressing import NO_OTHER_LINE
from xiaohu.lines.models import Line, LineStatus
from xiaohu.notifications.service import provisioning_message, sms_message
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context

CHANNEL = "auto"
REASON = "arrears_auto_cancel"
NO_REFUND = {"kind": "none"}  # the route of a cancellation that refunded nothing
# A bill status the foundation names (billing.models) that billing.rules.BillStatus lacks yet.
WRITTEN_OFF = BillStatus.WRITTEN_OFF
GATEWAY = RefundRoute(RefundRouteKind.ORIGINAL, method="gateway")

_BILLS: Table = Bill.__table__  # type: ignore[assignment]
_CANCELLATIONS: Table = Cancellation.__table__  # type: ignore[assignment]
_NUMBERS: Table = NumberRecord.__table__  # type: ignore[assignment]


@dataclass
class Cancelled:
    lines: int = 0
    written_off_fen: int = 0
    refunded_fen: int = 0


def cancel_lines(ctx: Context, terms: Terms, in_range: ColumnElement[bool], b: Batch) -> Cancelled:
    """Cancel every line of the range whose arrears clock has run its months."""
    done = Cancelled()
    session, day, at = ctx.session, terms.day, b.at
    limit = terms.by_province(
        LINES.c.province_code,
        lambda v: rules.latest_start(day, v.auto_cancel_after_arrears_months),
        Date(),
    )
    due = session.execute(
        clock_started_by(in_range, limit, LINES.c.cash_fen, LINES.c.gift_fen).with_for_update()
    ).all()
    if not due:
        return done
    ids = [r.id for r in due]
    bills: dict[int, list[Any]] = {}
    for bill in session.execute(
        select(_BILLS.c.id, _BILLS.c.line_id, _BILLS.c.amount_fen, _BILLS.c.paid_fen)
        .where(_BILLS.c.line_id.in_(ids), _BILLS.c.status == BillStatus.UNPAID)
        .order_by(_BILLS.c.line_id, _BILLS.c.period, _BILLS.c.id)
    ):
        bills.setdefault(bill.line_id, []).append(bill)

    cancellations: list[dict[str, Any]] = []
    bill_rows: list[dict[str, Any]] = []
    numbers: list[dict[str, Any]] = []
    txns: dict[str, list[Txn]] = {}
    refunds: list[tuple[Any, dict[str, Any], int]] = []
    notices: list[tuple[Any, int, bool]] = []
    for line in due:
        p, v = line.province_code, terms.values(line.province_code)
        write_off = v.auto_cancel_debt == "write_off"
        left = max(line.cash_fen, 0)
        applied = debt = 0
        for bill in bills.get(line.id, []):
            take = min(left, bill.amount_fen - bill.paid_fen)
            left, applied = left - take, applied + take
            owed = bill.amount_fen - bill.paid_fen - take
            debt += owed
            if take or (owed and write_off):
                status = (
                    BillStatus.PAID
                    if owed <= 0
                    else (WRITTEN_OFF if write_off else BillStatus.UNPAID)
                )
                bill_rows.append(
                    {"b_id": bill.id, "b_paid": bill.paid_fen + take, "b_status": status}
                )
        refund, forfeited = left, max(line.gift_fen, 0)
        written_off = debt if write_off else 0
        row = {
            "id": new_id(),
            "reference": "",  # below: unique ones for the whole range at once
            "line_id": line.id,
            "msisdn": line.msisdn,
            "province_code": p,
            "handling_province_code": p,
            "channel": CHANNEL,
            "store_code": None,
            "staff_login": None,
            "status": CancellationStatus.CANCELLED,
            "account_status": AccountStatus.CLOSED,
            "quote_id": None,
            "cancelled_at": at,
            "undo_until": at,
            "period": period_of(day),
            "final_charges": [],
            "charges_fen": 0,
            "refund_now_fen": refund,
            "reserve_fen": 0,
            "forfeited_fen": forfeited,
            "route": GATEWAY.as_dict() if refund else dict(NO_REFUND),
            "previous_status": line.status,
            "gift_applied_fen": 0,
            "shortfall_fen": debt - written_off,
            "late_usage_fen": 0,
            "trued_up_fen": 0,
            "closed_at": at,
        }
        cancellations.append(row)
        cid = row["id"]
        txns.setdefault(p, []).extend(
            [
                Txn(
                    "auto_cancel.bills_settled",
                    [
                        debit(f"subscriber_cash:{p}", applied, line.id),
                        credit(f"receivables:{p}", applied, line.id),
                    ],
                    ref=cid,
                ),
                Txn(
                    "cancellation.gift_forfeited",
                    [
                        debit(f"subscriber_gift:{p}", forfeited, line.id),
                        credit(f"gift_forfeited:{p}", forfeited),
                    ],
                    ref=cid,
                ),
                Txn(
                    REFUND_KIND,
                    [
                        debit(f"subscriber_cash:{p}", refund, line.id),
                        payable_leg(p, refund, line.id),
                    ],
                    ref=cid,
                ),
                Txn(
                    "auto_cancel.debt_written_off",
                    [
                        debit(f"bad_debt:{p}", written_off),
                        credit(f"receivables:{p}", written_off, line.id),
                    ],
                    ref=cid,
                ),
            ]
        )
        numbers.append(
            {
                "msisdn": line.msisdn,
                "province_code": p,
                "status": "quarantine",
                "former_line_id": line.id,
                "cancelled_at": at,
                "quarantined_until": at + dt.timedelta(days=v.quarantine_days),
                "released_at": None,
            }
        )
        if refund:
            refunds.append((line, row, refund))
        notices.append((line, debt, write_off and debt > 0))
        done.lines += 1
        done.written_off_fen += written_off
        done.refunded_fen += refund

    connection = session.connection()
    for row, ref in zip(cancellations, _references(ctx, cancellations, day), strict=True):
        row["reference"] = ref
    insert_rows(connection, _CANCELLATIONS, cancellations)
    for p in sorted(txns):
        post_many(session, txns[p], at=at, province_code=p)
    if bill_rows:
        connection.execute(
            update(_BILLS)
            .where(_BILLS.c.id == bindparam("b_id"))
            .values(paid_fen=bindparam("b_paid"), status=bindparam("b_status")),
            bill_rows,
        )
    # Cash went to the bills and the refund, gift was forfeited: both end at zero (a negative
    # balance, which no run here makes, would be left as it is, as its sub-ledger is).
    connection.execute(
        update(LINES)
        .where(LINES.c.id.in_(ids))
        .values(
            status=LineStatus.CANCELLED,
            status_reason=REASON,
            status_changed_at=at,
            cash_fen=case((LINES.c.cash_fen > 0, 0), else_=LINES.c.cash_fen),
            gift_fen=case((LINES.c.gift_fen > 0, 0), else_=LINES.c.gift_fen),
            updated_at=at,
            version=LINES.c.version + 1,
        )
    )
    connection.execute(_quarantine_statement(connection.dialect.name), numbers)
    payouts = refunds_to_route(
        session,
        [
            {"cancellation_id": row["id"], "line_id": line.id, "msisdn": line.msisdn,
             "province_code": line.province_code, "amount_fen": amount}
            for line, row, amount in refunds
        ],
        kind=RefundKind.NOW,
        route=GATEWAY,
        at=at,
    )  # fmt: skip
    invoiced = invoices.invoiced_lines(ctx, [line.id for line, _, _ in refunds])
    for (line, row, amount), payout in zip(refunds, payouts, strict=True):
        if payout is not None:
            b.send(line.province_code, (PAYOUT_TOPIC, payout))
        if line.id not in invoiced:
            continue  # nothing invoiced to take back: `on_refund` would issue nothing
        closed = session.get(Line, line.id, populate_existing=True)
        if closed is not None:
            invoices.on_refund(ctx, closed, amount_fen=amount, ref=row["id"])
    others = other_active_lines(ctx, {line.owner_id for line in due})
    for (line, debt, written_off), row in zip(notices, cancellations, strict=True):
        ref = row["reference"]
        p = line.province_code
        b.send(p, provisioning_message(line.msisdn, "deprovision"))
        to = next((m for lid, m in others.get(line.owner_id, []) if lid != line.id), None)
        if to is not None:
            text = rules.cancelled_text(line.msisdn, ref, debt, written_off)
            b.send(p, sms_message(to, text, "cancellation.completed"))
        b.event(
            "cancellation.completed",
            line.msisdn,
            p,
            {
                "cancellation_id": row["id"],
                "reference": ref,
                "channel": CHANNEL,
                "reason": REASON,
                "arrears_since": line.arrears_since.isoformat(),
                "previous_status": line.status,
                "forfeited_fen": row["forfeited_fen"],
                "refund_now_fen": row["refund_now_fen"],
                "debt_fen": debt,
                "debt": "written_off" if written_off else "receivable",
            },
        )
        if to is None:
            b.event("sms.not_sent", line.msisdn, p, {"kind": "cancellation.completed",
                                                     "reason": NO_OTHER_LINE})  # fmt: skip
    return done


def _references(ctx: Context, rows: list[dict[str, Any]], day: dt.date) -> list[str]:
    """A new reference for each cancellation (`kit.ids.reference`: six random characters a
    province and day): tens of thousands a day make a collision likely, so the ones taken
    already, in the database or in this range, are drawn again."""
    refs = [reference("XH", r["province_code"], day.isoformat()) for r in rows]
    for _ in range(100):
        taken = set(
            ctx.session.scalars(
                select(_CANCELLATIONS.c.reference).where(_CANCELLATIONS.c.reference.in_(refs))
            )
        )
        seen: set[str] = set()
        again = []
        for i, ref in enumerate(refs):
            if ref in taken or ref in seen:
                again.append(i)
            seen.add(ref)
        if not again:
            return refs
        for i in again:
            refs[i] = reference("XH", rows[i]["province_code"], day.isoformat())
    raise RuntimeError("no free cancellation reference")  # 32**6 a province and day


def _quarantine_statement(dialect: str) -> Any:
    """`numbers.service.quarantine`'s upsert, for many rows (an executemany)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(_NUMBERS)
    columns = ("province_code", "status", "former_line_id", "cancelled_at",
               "quarantined_until", "released_at")  # fmt: skip
    return stmt.on_conflict_do_update(
        index_elements=["msisdn"], set_={c: stmt.excluded[c] for c in columns}
    )
