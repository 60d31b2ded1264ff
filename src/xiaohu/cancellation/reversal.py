"""The reversal (返销): undoing a cancellation inside its undo window.

Why apart from the cancellation: it is its mirror image, not a second cancellation. The
journal of the final bill and the gift forfeiture is posted again with debits and credits
swapped (read back from the cancellation's own transactions, so it undoes exactly what was
posted), the final bill is voided and its usage unbilled so the cycle bills it, and the line,
its services and its number come back. The refund is not mirrored: it was paid out when the
cancellation committed.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update

from xiaohu.audit.service import line_event
from xiaohu.billing.models import Bill, UsageRecord
from xiaohu.billing.payouts import PAID_OUT_KIND
from xiaohu.billing.rules import BillKind, BillStatus
from xiaohu.cancellation.execute import REFUND_KIND
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import AccountStatus, CancellationStatus, undo_open
from xiaohu.identity.rules import mask_msisdn
from xiaohu.invoices import service as invoices
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import Posting
from xiaohu.ledger.service import post
from xiaohu.lines.addressing import sms_about
from xiaohu.lines.models import LineStatus
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import order_provisioning
from xiaohu.numbers import service as numbers
from xiaohu.runtime import Context

REVERSAL_KIND = "cancellation.reversed"


def undo(ctx: Context, c: Cancellation) -> Cancellation:
    """Reverse `c` (as `service.reverse` describes); a cancellation already reversed is
    returned as it is."""
    line = lock_line(ctx.session, c.msisdn)
    ctx.session.refresh(c)
    if c.status == CancellationStatus.REVERSED:
        return c
    now = ctx.now()
    if not undo_open(c, now):
        raise DomainError(
            "UNDO_WINDOW_CLOSED",
            f"the undo window closed at {c.undo_until.isoformat()}",
            undo_until=c.undo_until,
        )
    if line.id != c.line_id or line.status != LineStatus.CANCELLED:
        raise DomainError("CONFLICT", "the line is no longer in the state this cancellation left")
    numbers.restore(ctx, line)
    with ctx.session.no_autoflush:
        cash, gift = _post_reverse_entries(ctx, c)
        line.cash_fen += cash
        line.gift_fen += gift
        _unbill_final(ctx, c)
        line.status = c.previous_status or LineStatus.ACTIVE
        line.status_reason = "cancellation_reversed"
        line.status_changed_at = now
        line.updated_at = now
        c.status = CancellationStatus.REVERSED
        c.account_status = AccountStatus.REVERSED
        c.reversed_at = now
        p = line.province_code
        kept = c.refund_now_fen
        order_provisioning(ctx.session, line.msisdn, "restore", at=now, province_code=p)
        sms_about(  # active again: to the line itself
            ctx,
            line,
            f"【销户服务】受理编号{c.reference}的销户已撤销（返销），号码{mask_msisdn(line.msisdn)}"
            f"已恢复使用，销户费用已冲回，当前现金余额{yuan(line.cash_fen)}。"
            + (f"已退出的{yuan(kept)}不会收回，如需可随时充值。" if kept else ""),
            "cancellation.reversed",
            at=now,
        )
        ctx.session.flush()
    line_event(
        ctx,
        "cancellation.reversed",
        line.msisdn,
        p,
        {
            "cancellation_id": c.id,
            "reference": c.reference,
            "status": line.status,
            "cash_fen": line.cash_fen,
            "refund_kept_fen": kept,
        },
        at=now,
    )
    invoices.on_reversal(ctx, line, ref=c.id)  # the refund's red invoices, reissued blue
    return c


def _post_reverse_entries(ctx: Context, c: Cancellation) -> tuple[int, int]:
    """Post the mirror image of the cancellation's final bill and gift forfeiture; return the
    change to the line's cash and gift. Not of its refund or of that refund's payout: the money
    left (or is leaving) for the subscriber, who keeps it."""
    rows = ctx.session.execute(
        select(
            JournalEntry.account_code,
            JournalEntry.line_id,
            JournalEntry.debit_fen,
            JournalEntry.credit_fen,
        )
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            JournalTransaction.ref == c.id,
            # The line's province's own books only: another province's side of a due (its
            # drawer, a transfer's target) is that province's, and stays as it is.
            JournalTransaction.province_code == c.province_code,
            JournalTransaction.kind.not_in([REVERSAL_KIND, REFUND_KIND, PAID_OUT_KIND]),
        )
        .order_by(JournalEntry.id)
    ).all()
    legs: list[Posting] = []
    deltas: dict[str, int] = defaultdict(int)
    for account, line_id, dr, cr in rows:
        legs.append(Posting(account, debit_fen=cr, credit_fen=dr, line_id=line_id))
        if line_id == c.line_id:
            deltas[account.partition(":")[0]] += dr - cr
    post(ctx.session, REVERSAL_KIND, legs, at=ctx.now(), ref=c.id, province_code=c.province_code)
    return deltas["subscriber_cash"], deltas["subscriber_gift"]


def _unbill_final(ctx: Context, c: Cancellation) -> None:
    """The final bill is void and the usage it took unbilled again: the cycle bills it."""
    bill = ctx.session.scalars(
        select(Bill).where(
            Bill.line_id == c.line_id, Bill.period == c.period, Bill.kind == BillKind.FINAL
        )
    ).one_or_none()
    if bill is None:
        return
    ctx.session.execute(
        update(UsageRecord)
        .where(UsageRecord.bill_id == bill.id)
        .values(billed=False, bill_id=None)
        .execution_options(synchronize_session=False)
    )
    bill.status = BillStatus.VOID
