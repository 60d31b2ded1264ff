"""Carrying out an accepted cancellation: every write, in the caller's one transaction.

Final bill, gift applied and forfeited, refund now, reserve kept, line cancelled, number in
quarantine, provisioning and SMS through the outbox, audit. Why it looks the way it does: it is
written for few round trips. The locked line is reused, the journal goes out in two multi-row
inserts, the final bill and the number are upserts, the cancellation, refund and outbox rows
are Core inserts, and the audit event comes last, because the province's chain head stays
locked from then until commit. The caller (`service.cancel`) runs it under `no_autoflush`,
after `acceptance.py` has passed the request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, update

from xiaohu.audit.service import line_event
from xiaohu.billing.models import Bill, Refund, UsageRecord
from xiaohu.billing.payouts import payable_leg
from xiaohu.billing.rules import FinalBill, require_adds_up
from xiaohu.cancellation import quotes
from xiaohu.cancellation.models import Cancellation
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import local_date, period_of
from xiaohu.kit.db import upsert
from xiaohu.kit.ids import new_id, reference
from xiaohu.kit.money import yuan
from xiaohu.ledger.rules import credit, debit
from xiaohu.ledger.service import Txn, post_many
from xiaohu.lines.models import Line
from xiaohu.notifications.addressing import recipient, withheld
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.service import PENDING_FLAG
from xiaohu.numbers import service as numbers
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context

GATEWAY_CLEARING = "gateway_clearing"
REFUND_KIND = "cancellation.refund"

_BILLS: Table = Bill.__table__  # type: ignore[assignment]
_CANCELLATIONS: Table = Cancellation.__table__  # type: ignore[assignment]
_REFUNDS: Table = Refund.__table__  # type: ignore[assignment]
_USAGE: Table = UsageRecord.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


def execute(
    ctx: Context,
    line: Line,
    target: Line | None,
    bill: FinalBill,
    route: dict[str, Any],
    values: Values,
    channel: str,
    quote_id: str,
    token: quotes.QuoteToken,
) -> Cancellation:
    """Cancel the accepted line at the quoted amounts; returns the cancellation (a row already
    inserted, as an object not in the session)."""
    now = ctx.now()
    today = local_date(now)
    p = line.province_code
    charges_fen, from_cash = bill.charges_fen, bill.charges_from_cash_fen
    gift_applied, forfeited = bill.gift_applied_fen, bill.forfeited_fen
    refund_now, reserve = bill.refund_now_fen, bill.reserve_fen
    require_adds_up(line.cash_fen, line.gift_fen, bill)

    row: dict[str, Any] = {
        "id": new_id(),
        "reference": reference("XH", p, today.isoformat()),
        "line_id": line.id,
        "msisdn": line.msisdn,
        "province_code": p,
        "handling_province_code": p,
        "channel": channel,
        "status": "cancelled",
        "account_status": "settling",
        "quote_id": quote_id,
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
        "route": route,
        "previous_status": line.status,
        "gift_applied_fen": gift_applied,
    }
    # Inserted at once (the refund row refers to it); `c` is the same row as an object, for
    # the answer. A later `find()` in this session reads it from the database.
    ctx.session.connection().execute(_CANCELLATIONS.insert(), row)
    c = Cancellation(**row)

    # The final bill: charged, paid from gift (where allowed) and cash; the rest of the gift
    # forfeited; the cash left refunded now, less the reserve kept on the line.
    if target is not None:
        to_leg = credit(f"subscriber_cash:{target.province_code}", refund_now, target.id)
        target.cash_fen += refund_now
        target.updated_at = now
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
        messages += _refund_row(ctx, c, "now", refund_now, route)

    line.status = "cancelled"
    line.status_reason = "subscriber_request"
    line.status_changed_at = now
    line.updated_at = now
    numbers.quarantine(ctx, line, days=values.quarantine_days)
    messages.append(("network.provisioning", {"msisdn": line.msisdn, "action": "deprovision"}))
    text = (
        f"【销户服务】号码{mask_msisdn(line.msisdn)}已销户，受理编号{c.reference}。"
        f"立即退款{yuan(refund_now)}，预留{yuan(reserve)}将于账期结算后自动退还。"
        "请尽快解除该号码与银行、微信、支付宝等互联网账号的绑定。"
        f"如需恢复，请于{values.undo_window_hours}小时内申请返销。"
    )
    # The number is cancelled now: the notice goes to the owner's other line, if any.
    to = recipient(ctx, line)
    if to is not None:
        messages.append(("sms", {"to": to, "text": text, "kind": "cancellation.completed"}))
    _emit(ctx, messages, at=now, province_code=p)
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
            "route": route["kind"],
            "undo_until": c.undo_until.isoformat(),
        },
        at=now,
    )
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
            "kind": "final",
            "amount_fen": c.charges_fen,
            "paid_fen": c.charges_fen,
            "status": "paid",
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


def _refund_row(
    ctx: Context, c: Cancellation, kind: str, amount: int, route: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """The refund record; returns the payout order for the gateway (an outbox message,
    delivered after commit), none for a transfer to another line."""
    refund_id = new_id()
    ctx.session.connection().execute(
        _REFUNDS.insert(),
        {
            "id": refund_id,
            "cancellation_id": c.id,
            "line_id": c.line_id,
            "province_code": c.province_code,
            "kind": kind,
            "amount_fen": amount,
            "route": route,
            # A transfer is done here; a payout is owed until the gateway confirms it.
            "status": "paid" if route["kind"] == "transfer" else "pending",
            "created_at": ctx.now(),
        },
    )
    if route["kind"] == "transfer":
        return []
    payout = {"refund_id": refund_id, "msisdn": c.msisdn, "amount_fen": amount, "route": route}
    return [("payment.refund", payout)]


def _emit(
    ctx: Context,
    messages: list[tuple[str, dict[str, Any]]],
    *,
    at: dt.datetime,
    province_code: str,
) -> None:
    """Write outbox messages in one multi-row insert; delivered after commit. The payloads are
    those of `notifications.service` (`send_sms`, `order_provisioning`, a refund payout)."""
    rows = [
        {"topic": topic, "payload": payload, "province_code": province_code, "created_at": at}
        for topic, payload in messages
    ]
    ctx.session.connection().execute(_OUTBOX.insert(), rows)
    ctx.session.info[PENDING_FLAG] = True
