"""Carrying out an accepted cancellation: every write, in the caller's one transaction.

Final bill, gift applied and forfeited, refund now, reserve kept, line cancelled, number in
quarantine, provisioning and SMS through the outbox, audit. Why it looks the way it does: it is
written for few round trips. The locked line is reused, the journal goes out in two multi-row
inserts, the final bill and the number are upserts, the cancellation, refund and outbox rows
are Core inserts, and the audit event comes last, because the province's chain head stays
locked from then until commit. The caller (`service.cancel`) runs it under `no_autoflush`,
after `acceptance.py` has passed the request. A cash refund's red invoices (`invoices`) are
issued after the audit event too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, update

from xiaohu.audit.service import line_event
from xiaohu.billing.models import Bill, UsageRecord
from xiaohu.billing.payouts import TOPIC as PAYOUT_TOPIC
from xiaohu.billing.payouts import payable_leg, refund_to_route
from xiaohu.billing.rules import BillKind, BillStatus, RefundKind, require_adds_up
from xiaohu.billing.transfers import transfer_leg
from xiaohu.cancellation.acceptance import Accepted
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import AccountStatus, CancellationStatus
from xiaohu.identity.rules import mask_msisdn
from xiaohu.interprovince import dues
from xiaohu.invoices import service as invoices
from xiaohu.kit.clock import local_date, period_of
from xiaohu.kit.db import upsert
from xiaohu.kit.ids import new_id, reference
from xiaohu.kit.money import yuan
from xiaohu.ledger.rules import credit, debit
from xiaohu.ledger.service import Txn, post_many
from xiaohu.lines.addressing import recipient, withheld
from xiaohu.lines.models import Line, LineStatus
from xiaohu.notifications.service import enqueue_many, provisioning_message, sms_message
from xiaohu.numbers import service as numbers
from xiaohu.runtime import Context
from xiaohu.stores.models import Store

REFUND_KIND = "cancellation.refund"

_BILLS: Table = Bill.__table__  # type: ignore[assignment]
_CANCELLATIONS: Table = Cancellation.__table__  # type: ignore[assignment]
_USAGE: Table = UsageRecord.__table__  # type: ignore[assignment]


def execute(ctx: Context, accepted: Accepted) -> Cancellation:
    """Cancel the accepted line at the quoted amounts; returns the cancellation (a row already
    inserted, as an object not in the session)."""
    line, target, bill, values = accepted.line, accepted.target, accepted.bill, accepted.values
    channel, token, route = accepted.channel, accepted.token, accepted.route
    now = ctx.now()
    today = local_date(now)
    p = line.province_code
    charges_fen, from_cash = bill.charges_fen, bill.charges_from_cash_fen
    gift_applied, forfeited = bill.gift_applied_fen, bill.forfeited_fen
    refund_now, reserve = bill.refund_now_fen, bill.reserve_fen
    require_adds_up(line.cash_fen, line.gift_fen, bill)
    handling = handling_province(ctx, accepted.store_code) or p

    row: dict[str, Any] = {
        "id": accepted.cancellation_id or new_id(),
        "reference": accepted.reference or reference("XH", p, today.isoformat()),
        "line_id": line.id,
        "msisdn": line.msisdn,
        "province_code": p,
        "handling_province_code": handling,
        "channel": channel,
        "store_code": accepted.store_code,
        "staff_login": accepted.staff_login,
        "status": CancellationStatus.CANCELLED,
        "account_status": AccountStatus.SETTLING,
        "quote_id": accepted.quote_id,
        "cancelled_at": now,
        "undo_until": now + dt.timedelta(hours=values.undo_window_hours),
        # The period the quote priced, not the one the request arrived in: a quote made at
        # 23:59 on a month's last day and used after midnight charges that month, so that
        # month's close trues it up (and its final bill is filed under it).
        "period": period_of(local_date(token.created_at)),
        "final_charges": [ch.as_dict() for ch in bill.charges],
        "charges_fen": charges_fen,
        "refund_now_fen": refund_now,
        "reserve_fen": reserve,
        "forfeited_fen": forfeited,
        "route": route.as_dict(),
        "previous_status": line.status,
        "gift_applied_fen": gift_applied,
    }
    # Inserted at once (the refund row refers to it); `c` is the same row as an object, for
    # the answer. A later `find()` in this session reads it from the database.
    ctx.session.connection().execute(_CANCELLATIONS.insert(), row)
    c = Cancellation(**row)

    # The final bill: charged, paid from gift (where allowed) and cash; the rest of the gift
    # forfeited; the cash left refunded now, less the reserve kept on the line.
    # A transfer to a line or cash from a store of another province is a due to that
    # province, which is sent its side (`billing.transfers`, `interprovince.dues`).
    if target is not None:
        to_leg = transfer_leg(ctx, home=p, target=target, amount_fen=refund_now, ref=row["id"])
    elif route.is_cash and route.store_code:  # handed over from the drawer, at once
        to_leg = dues.refund_leg(
            ctx,
            home=p,
            store_code=route.store_code,
            store_province=handling,
            amount_fen=refund_now,
            ref=row["id"],
            msisdn_masked=mask_msisdn(line.msisdn),
        )
    else:  # owed until the gateway confirms the payout (`billing.payouts`)
        to_leg = payable_leg(p, refund_now, line.id)
    post_many(
        ctx.session,
        [
            *(
                Txn(
                    f"charge.{ch.item}",
                    [
                        debit(f"receivables:{p}", ch.amount_fen, line.id),
                        credit(f"revenue:{p}", ch.amount_fen),
                    ],
                    ref=c.id,
                )
                for ch in bill.charges
            ),
            Txn(
                "cancellation.final_bill_settled",
                [
                    debit(f"subscriber_gift:{p}", gift_applied, line.id),
                    debit(f"subscriber_cash:{p}", from_cash, line.id),
                    credit(f"receivables:{p}", charges_fen, line.id),
                ],
                ref=c.id,
            ),
            Txn(
                "cancellation.gift_forfeited",
                [
                    debit(f"subscriber_gift:{p}", forfeited, line.id),
                    credit(f"gift_forfeited:{p}", forfeited),
                ],
                ref=c.id,
            ),
            Txn(REFUND_KIND, [debit(f"subscriber_cash:{p}", refund_now, line.id), to_leg], c.id),
        ],
        at=now,
        province_code=p,
    )
    line.cash_fen = reserve
    line.gift_fen = 0
    _bill_final(ctx, line, c, token.usage_upto or None)
    messages: list[tuple[str, dict[str, Any]]] = []
    if refund_now > 0:
        payout = refund_to_route(
            ctx.session,
            cancellation_id=c.id,
            line_id=line.id,
            msisdn=line.msisdn,
            province_code=p,
            kind=RefundKind.NOW,
            amount_fen=refund_now,
            route=route,
            at=now,
        )
        if payout is not None:
            messages.append((PAYOUT_TOPIC, payout))

    line.status = LineStatus.CANCELLED
    line.status_reason = "subscriber_request"
    line.status_changed_at = now
    line.updated_at = now
    numbers.quarantine(ctx, line, days=values.quarantine_days)
    messages.append(provisioning_message(line.msisdn, "deprovision"))
    text = (
        f"【销户服务】号码{mask_msisdn(line.msisdn)}已销户，受理编号{c.reference}。"
        f"立即退款{yuan(refund_now)}，预留{yuan(reserve)}将于账期结算后自动退还。"
        "请尽快解除该号码与银行、微信、支付宝等互联网账号的绑定。"
        f"如需恢复，请于{values.undo_window_hours}小时内申请返销。"
    )
    # The number is cancelled now: the notice goes to the owner's other line, if any.
    to = recipient(ctx, line)
    if to is not None:
        messages.append(sms_message(to, text, "cancellation.completed"))
    enqueue_many(ctx.session, messages, at=now, province_code=p)
    ctx.session.flush()  # the line (and a transfer's target): the only ORM write
    # Last: from here to commit the province's audit chain head is locked.
    line_event(
        ctx,
        "cancellation.completed",
        line.msisdn,
        p,
        {
            "cancellation_id": c.id,
            "reference": c.reference,
            "channel": channel,
            "quote_id": c.quote_id,
            "charges_fen": charges_fen,
            "gift_applied_fen": gift_applied,
            "forfeited_fen": forfeited,
            "refund_now_fen": refund_now,
            "reserve_fen": reserve,
            "route": str(route.kind),
            "undo_until": c.undo_until.isoformat(),
            **({"store_code": accepted.store_code} if accepted.store_code else {}),
            **({"documents_seen": accepted.evidence} if accepted.evidence else {}),
        },
        at=now,
    )
    if target is None:  # cash paid back (a transfer stays with the operator, invoiced)
        invoices.on_refund(ctx, line, amount_fen=refund_now, ref=c.id)
    if to is None:
        withheld(ctx, line, "cancellation.completed", now)
    return c


def _bill_final(ctx: Context, line: Line, c: Cancellation, usage_upto: int | None) -> None:
    """The final bill row (paid in full), and the usage it took marked billed. A bill voided
    by a reversal is taken again: one final bill per line and period (an upsert)."""
    if c.charges_fen <= 0 and usage_upto is None:
        return
    bill_id = upsert(
        ctx.session,
        _BILLS,
        {
            "line_id": line.id,
            "province_code": line.province_code,
            "period": c.period,
            "kind": BillKind.FINAL,
            "amount_fen": c.charges_fen,
            "paid_fen": c.charges_fen,
            "status": BillStatus.PAID,
            "due_on": local_date(c.cancelled_at),
            "created_at": c.cancelled_at,
        },
        key=["line_id", "period", "kind"],
        returning=_BILLS.c.id,
    ).scalar_one()
    if usage_upto is not None:
        ctx.session.connection().execute(
            update(_USAGE)
            .where(
                _USAGE.c.line_id == line.id,
                _USAGE.c.billed.is_(False),
                _USAGE.c.id <= usage_upto,
            )
            .values(billed=True, bill_id=bill_id)
        )


def handling_province(ctx: Context, store_code: str | None) -> str | None:
    """The province of the store handling a cancellation (None off the store channel)."""
    store = ctx.session.get(Store, store_code) if store_code else None
    return store.province_code if store is not None else None
