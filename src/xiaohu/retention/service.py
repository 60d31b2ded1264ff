"""Use cases: the retention check (a read), applying for retention, reactivation (复机), and a
retained line's figures for its overview.

The check reads the cancellation check's snapshot of the line (one query: balances, arrears
over the province's scope, unbilled usage, contracts) and prices it with `rules.py`. Applying
locks the line, checks again on what is committed, and changes the line at once: `retained`,
`retained_on` today, `retention_starts_on` next month's first day; the network is told to
suspend service (outbox), the subscriber gets an SMS, the audit chain an event. Reactivation
needs nothing owed on the line; at a counter the owed amount may be taken with it
(`billing.pay` with the store as `PaymentSource`). Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from xiaohu.audit.service import line_event
from xiaohu.billing import service as billing
from xiaohu.cancellation import snapshot
from xiaohu.cancellation.answers import notice_json
from xiaohu.cancellation.terms import policy_values
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan
from xiaohu.lines.models import Line, LineStatus
from xiaohu.lines.service import get_line, lock_line
from xiaohu.notifications.service import order_provisioning, send_sms
from xiaohu.retention import rules
from xiaohu.retention.schemas import (
    MinimumOut,
    ReactivatedOut,
    RetainedOut,
    RetentionCheckOut,
    RetentionView,
)
from xiaohu.runtime import Context


@dataclass(frozen=True)
class Channel:
    """Where the request was made: online (the line's token, also a hotline session), or at a
    store's counter (the clerk's store and the documents seen, for the audit event)."""

    name: str = "online"
    store_code: str | None = None
    evidence: dict[str, Any] | None = None

    def audit(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.name}
        if self.store_code is not None:
            out["store_code"] = self.store_code
        if self.evidence is not None:
            out["documents"] = self.evidence
        return out


ONLINE = Channel()


def _checked(ctx: Context, msisdn: str) -> rules.RetentionCheck:
    """The check on the line as committed now."""
    snap = snapshot.load_by_msisdn(ctx.session, msisdn).snapshot
    today = local_date(ctx.now())
    values = policy_values(ctx, snap.province_code, today)
    starts = None
    if snap.status == LineStatus.RETAINED:
        line = ctx.session.get(Line, snap.line_id)
        starts = line.retention_starts_on if line is not None else None
    return rules.check_retention(snap, values, today, retention_starts_on=starts)


def _check_out(found: rules.RetentionCheck) -> RetentionCheckOut:
    return RetentionCheckOut(
        eligible=found.eligible,
        blockers=[notice_json(b.as_dict()) for b in found.blockers],
        fee_per_month_fen=found.fee_per_month_fen,
        minimums=[MinimumOut(**m.as_dict()) for m in found.minimums],
        starts_on=found.starts_on,
        months_covered=found.months_covered,
    )


def check(ctx: Context, msisdn: str) -> RetentionCheckOut:
    """Every blocker, the monthly fee, the start date and the months the balance covers. For
    a line already retained, its retention's own figures (as its overview shows them), beside
    the blocker that says it is retained already, rather than those of a new application."""
    out = _check_out(_checked(ctx, msisdn))
    line = get_line(ctx.session, msisdn)
    current = retention_view(ctx, line)
    if current is not None:
        out.starts_on = current.starts_on
        out.fee_per_month_fen = current.fee_per_month_fen
        out.months_covered = current.months_covered
    return out


def apply(ctx: Context, msisdn: str, channel: Channel = ONLINE) -> RetainedOut:
    """Retain the line now, or `409 RETENTION_BLOCKED` with every blocker."""
    line = lock_line(ctx.session, msisdn)
    found = _checked(ctx, msisdn)
    if not found.eligible:
        raise DomainError(
            "RETENTION_BLOCKED",
            "the line cannot be retained: " + ", ".join(b.code for b in found.blockers),
            blockers=[notice_json(b.as_dict()) for b in found.blockers],
        )
    now = ctx.now()
    today = local_date(now)
    line.status = LineStatus.RETAINED
    line.status_reason = "retention_applied"
    line.status_changed_at = now
    line.retained_on = today
    line.retention_starts_on = found.starts_on
    line.arrears_since = None
    line.updated_at = now
    p = line.province_code
    order_provisioning(ctx.session, msisdn, "suspend", at=now, province_code=p)
    covered = (
        f"当前余额可支付约{found.months_covered}个月。" if found.months_covered is not None else ""
    )
    send_sms(
        ctx.session,
        msisdn,
        f"【销户助手】您的号码{mask_msisdn(msisdn)}已办理停机保号，本月套餐费照常收取，"
        f"自{found.starts_on}起每月收取保号费{yuan(found.fee_per_month_fen)}。{covered}"
        "复机请登录办理或到营业厅。",
        "retention",
        at=now,
        province_code=p,
    )
    ctx.session.flush()
    line_event(
        ctx,
        "line.retained",
        msisdn,
        p,
        {
            "from": LineStatus.ACTIVE,
            "to": LineStatus.RETAINED,
            "starts_on": found.starts_on.isoformat(),
            "fee_per_month_fen": found.fee_per_month_fen,
            "months_covered": found.months_covered,
            **channel.audit(),
        },
        at=now,
    )
    return RetainedOut(
        starts_on=found.starts_on,
        fee_per_month_fen=found.fee_per_month_fen,
        months_covered=found.months_covered,
    )


def suspended_line(ctx: Context, msisdn: str) -> Line:
    """The line, locked, if it is retained or arrears-suspended; else `409 NOT_SUSPENDED`."""
    line = lock_line(ctx.session, msisdn)
    if line.status not in rules.SUSPENDED_STATES:
        raise DomainError(
            "NOT_SUSPENDED",
            f"{mask_msisdn(msisdn)} is {line.status}: only a retained or arrears-suspended line "
            "is reactivated",
            state=line.status,
        )
    return line


def reactivate(
    ctx: Context,
    msisdn: str,
    channel: Channel = ONLINE,
    *,
    payment: billing.PaymentSource | None = None,
    idempotency_key: str | None = None,
) -> ReactivatedOut:
    """复机: a retained or arrears-suspended line back to active once nothing is owed on it
    (`409 ARREARS` with `amount_fen` otherwise). `payment`: at a counter, the owed amount is
    taken first (cash into the drawer, or a card), which settles the bills."""
    line = suspended_line(ctx, msisdn)
    owed = billing.arrears_fen(ctx.session, [line.id])
    paid, payment_id = 0, None
    if owed > 0 and payment is not None:
        result = billing.pay(ctx, msisdn, owed, idempotency_key=idempotency_key, source=payment)
        paid, payment_id = owed, result.payment_id
        owed = billing.arrears_fen(ctx.session, [line.id])
    if owed > 0:
        raise billing.owes(msisdn, owed, at_counter=channel.store_code is not None)
    now = ctx.now()
    if line.status != LineStatus.ACTIVE:  # a payment may have reactivated it already
        billing.restore_line(ctx, line, "reactivation_requested")
    send_sms(
        ctx.session,
        msisdn,
        f"【销户助手】您的号码{mask_msisdn(msisdn)}已复机，恢复正常使用，套餐自本月起恢复计费。",
        "reactivation",
        at=now,
        province_code=line.province_code,
    )
    ctx.session.flush()
    line_event(
        ctx,
        "reactivation.done",
        msisdn,
        line.province_code,
        {"paid_fen": paid, "payment_id": payment_id, **channel.audit()},
        at=now,
    )
    return ReactivatedOut(paid_fen=paid, payment_id=payment_id)


def retention_view(ctx: Context, line: Line, today: dt.date | None = None) -> RetentionView | None:
    """A retained line's figures for its overview; None for any other line."""
    if line.status != LineStatus.RETAINED or line.retention_starts_on is None:
        return None
    today = today or local_date(ctx.now())
    snap = snapshot.load_by_msisdn(ctx.session, line.msisdn).snapshot
    values = policy_values(ctx, line.province_code, today)
    fee, months = rules.retained_view(snap, values, today, line.retention_starts_on)
    return RetentionView(
        starts_on=line.retention_starts_on,
        fee_per_month_fen=fee,
        months_covered=months,
        retained_on=line.retained_on,
    )
