"""Issuing invoices: one function per event that moves invoiced money.

- `on_payment`: money received for a line (online, hotline, a store's cash or card, a
  contract's penalty) gets a blue invoice, once per payment whatever retries it.
- `on_refund`: cash paid back to the subscriber (at cancellation, or the cycle close's true-up)
  gets red invoices against the line's blue ones, newest first, up to the refunded amount
  (`rules.reds_for`: only invoiced money is taken back). A transfer to another line of the
  owner is not called a refund here: the money stays with the operator, invoiced.
- `on_reversal`: a reversed cancellation gets, for each red invoice its refund issued, a blue
  one for the red one's amount that names it.

The issuer is always the line's home province, wherever the event happened: the payment and
the refund are in the home province's books, and so is its invoice counter. In one database
the call is direct. Once provinces talk through `interprovince` messages, a handling province
that takes money for another's line would `send(ctx, home, "invoice.issue", {"event": ...,
"payment_id" | "ref", "amount_fen", "msisdn"})`, and the home province's applier would call
these same functions in its own database (idempotent by payment id or ref, as a redelivered
message requires): numbering stays the home province's alone.

Locks: the callers issue after the event's audit line, so the province's audit chain head is
already held when the counter row is locked; both locks are taken in that order everywhere,
and the counter adds no wait the chain head did not already impose.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError

from xiaohu.invoices import rules
from xiaohu.invoices.models import Invoice, InvoiceCounter
from xiaohu.invoices.rules import InvoiceKind
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.lines.service import get_line
from xiaohu.runtime import Context

_COUNTERS: Table = InvoiceCounter.__table__  # type: ignore[assignment]
_INVOICES: Table = Invoice.__table__  # type: ignore[assignment]


def on_payment(
    ctx: Context, line: Line, *, payment_id: str, amount_fen: int, purpose: str
) -> Invoice:
    """The blue invoice of a payment to `line` (the line it was paid to, whichever of the
    owner's lines paid it). A payment already invoiced gets its invoice back."""
    earlier = ctx.session.scalars(select(Invoice).where(Invoice.payment_id == payment_id)).first()
    if earlier is not None:
        return earlier
    (invoice,) = _issue(
        ctx,
        line,
        [
            {
                "kind": InvoiceKind.BLUE,
                "amount_fen": amount_fen,
                "item": rules.item_of(purpose),
                "payment_id": payment_id,
            }
        ],
    )
    return invoice


def on_refund(ctx: Context, line: Line, *, amount_fen: int, ref: str) -> list[Invoice]:
    """Red invoices for `amount_fen` of cash refunded from `line` (`ref`: the cancellation,
    or `true_up:<cancellation>`). Nothing when nothing invoiced is left; the same `ref`
    twice issues nothing more."""
    if amount_fen <= 0:
        return []
    done = _by_ref(ctx, line, InvoiceKind.RED, ref)
    if done:
        return done
    blues = ctx.session.scalars(
        select(Invoice)
        .where(Invoice.line_id == line.id, Invoice.kind == InvoiceKind.BLUE)
        .order_by(Invoice.number.desc())
    ).all()
    taken = dict(
        ctx.session.execute(
            select(Invoice.original_number, func.sum(Invoice.amount_fen))
            .where(Invoice.line_id == line.id, Invoice.kind == InvoiceKind.RED)
            .group_by(Invoice.original_number)
        ).all()
    )
    open_blues = [rules.Open(b.number, b.amount_fen - int(taken.get(b.number) or 0)) for b in blues]
    items = {b.number: b.item for b in blues}
    reds = rules.reds_for(amount_fen, open_blues)
    return _issue(
        ctx,
        line,
        [
            {
                "kind": InvoiceKind.RED,
                "amount_fen": amount,
                "item": items[original],
                "original_number": original,
                "ref": ref,
            }
            for original, amount in reds
        ],
    )


def invoiced_lines(ctx: Context, line_ids: list[int]) -> set[int]:
    """The lines among `line_ids` with a blue invoice: only they can have a refund reddened
    (`on_refund` issues nothing for the others), so a run refunding thousands of lines asks
    once instead of once a line."""
    if not line_ids:
        return set()
    return set(
        ctx.session.scalars(
            select(Invoice.line_id)
            .where(Invoice.line_id.in_(line_ids), Invoice.kind == InvoiceKind.BLUE)
            .distinct()
        )
    )


def on_reversal(ctx: Context, line: Line, *, ref: str) -> list[Invoice]:
    """For each red invoice the reversed cancellation `ref` issued, a blue one for its amount
    naming it (once: a red one already reissued is skipped)."""
    reds = _by_ref(ctx, line, InvoiceKind.RED, ref)
    reissued = set(
        ctx.session.scalars(
            select(Invoice.original_number).where(
                Invoice.line_id == line.id,
                Invoice.kind == InvoiceKind.BLUE,
                Invoice.original_number.in_([r.number for r in reds]),
            )
        )
    )
    return _issue(
        ctx,
        line,
        [
            {
                "kind": InvoiceKind.BLUE,
                "amount_fen": red.amount_fen,
                "item": red.item,
                "original_number": red.number,
                "ref": ref,
            }
            for red in reds
            if red.number not in reissued
        ],
    )


def list_for(ctx: Context, msisdn: str) -> list[Invoice]:
    """The line's invoices, newest first."""
    line = get_line(ctx.session, msisdn)
    return list(
        ctx.session.scalars(
            select(Invoice).where(Invoice.line_id == line.id).order_by(Invoice.number.desc())
        )
    )


def find(ctx: Context, msisdn: str, number: str) -> Invoice:
    """The invoice `number` of line `msisdn`: 404 INVOICE_NOT_FOUND when there is none,
    403 when it is another line's."""
    line = get_line(ctx.session, msisdn)
    invoice = ctx.session.get(Invoice, number) if rules.is_number(number) else None
    if invoice is None:
        raise DomainError("INVOICE_NOT_FOUND", f"no invoice {number}")
    if invoice.line_id != line.id:
        raise DomainError("FORBIDDEN", "this invoice belongs to another line")
    return invoice


def _by_ref(ctx: Context, line: Line, kind: InvoiceKind, ref: str) -> list[Invoice]:
    return list(
        ctx.session.scalars(
            select(Invoice)
            .where(Invoice.line_id == line.id, Invoice.kind == kind, Invoice.ref == ref)
            .order_by(Invoice.number)
        )
    )


def _issue(ctx: Context, line: Line, drafts: list[dict[str, Any]]) -> list[Invoice]:
    """Number and insert the drafts, issued now by the line's home province (one Core insert;
    the invoices are returned as objects not in the session)."""
    if not drafts:
        return []
    now = ctx.now()
    province, year = line.province_code, local_date(now).year
    last = _take_numbers(ctx, province, year, len(drafts))
    rows = []
    for i, draft in enumerate(drafts):
        seq = last - len(drafts) + 1 + i
        rows.append(
            {
                "original_number": None,
                "payment_id": None,
                "ref": None,
                **draft,
                "kind": str(draft["kind"]),
                "number": rules.number(province, year, seq),
                "province_code": province,
                "year": year,
                "seq": seq,
                "line_id": line.id,
                "msisdn": line.msisdn,
                "issued_at": now,
            }
        )
    ctx.session.connection().execute(_INVOICES.insert(), rows)
    return [Invoice(**row) for row in rows]


def _take_numbers(ctx: Context, province: str, year: int, count: int) -> int:
    """Move the province's counter for `year` on by `count` and return its new last value.
    The UPDATE locks the row until the transaction ends (the counter is created on first
    use; a concurrent creator's row is locked instead)."""
    connection = ctx.session.connection()
    bump = (
        update(_COUNTERS)
        .where(_COUNTERS.c.province_code == province, _COUNTERS.c.year == year)
        .values(last_seq=_COUNTERS.c.last_seq + count)
        .returning(_COUNTERS.c.last_seq)
    )
    last = connection.execute(bump).scalar_one_or_none()
    if last is None:
        try:
            with connection.begin_nested():
                connection.execute(
                    _COUNTERS.insert(), {"province_code": province, "year": year, "last_seq": 0}
                )
        except IntegrityError:
            pass  # another transaction created it first: wait for its lock below
        last = connection.execute(bump).scalar_one()
    return int(last)
