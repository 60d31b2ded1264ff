"""Use cases: the check (a pure read), the cancellation, reading it, the reversal.

The check is the hot path (≥1,000/s): one query reads the line's snapshot (`snapshot.py`), the
rules price it and list its blockers and warnings, and the quote is a signed token
(`quotes.py`), not a row: the check writes nothing and runs in a read-only unit of work. Its
answer is written as JSON by hand (`answers.py`) with the policy memoised (`terms.py`).

The cancellation honours the quoted amounts (the line's `version` unchanged means the same
snapshot, priced again as of the quote's date) and does everything in the caller's one
transaction: the request is first accepted, locking and reading only (`acceptance.py`), then
carried out, every write in few round trips (`execute.py`). A refusal is logged with its
blocker codes and raised with `keep_writes=True`: the unit of work commits the log with the 409
answer. The reversal (返销) is in `reversal.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from xiaohu.audit.service import line_event
from xiaohu.billing.models import Refund
from xiaohu.cancellation import quotes, rules, snapshot
from xiaohu.cancellation.acceptance import (
    Accepted,
    lock_lines,
    quoted_bill,
    refund_route,
    require_acknowledged,
    token_for,
)
from xiaohu.cancellation.answers import already_cancelled, notice_json, quote_json
from xiaohu.cancellation.execute import execute
from xiaohu.cancellation.models import Cancellation, Refusal, latest_cancellation
from xiaohu.cancellation.reversal import undo
from xiaohu.cancellation.schemas import (
    CancellationOut,
    CancellationRequest,
    CheckOut,
    RefundOut,
    SettlementOut,
)
from xiaohu.cancellation.terms import cycle_closes_on, policy_fingerprint, policy_values
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import confirm_real_name
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.kit.ids import reference
from xiaohu.lines.models import Line, LineStatus
from xiaohu.runtime import Context


def receipt_url(cancellation_id: str) -> str:
    return f"/api/v1/cancellations/{cancellation_id}/receipt.pdf"


# --- the check -------------------------------------------------------------------------


def check_json(
    ctx: Context,
    msisdn: str,
    *,
    channel: str = "online",
    counter: rules.AtCounter | None = None,
) -> dict[str, Any]:
    """The check as the JSON document the API answers (the shape of `CheckOut`), built
    without a Pydantic round trip: every blocker, the warnings and a signed quote valid
    `quote_valid_minutes`. Reads only. `counter`: the store handling it (store channel)."""
    loaded = snapshot.load_by_msisdn(ctx.session, msisdn)
    snap = loaded.snapshot
    if snap.status == LineStatus.CANCELLED:
        notice = already_cancelled(ctx, snap.line_id)
        return {"eligible": False, "blockers": [notice], "warnings": [], "quote": None}
    now = ctx.now()
    today = local_date(now)
    values = policy_values(ctx, snap.province_code, today)
    bill = rules.price(snap, values, today)
    blockers = rules.check_cancellation(snap, values, today, channel, bill, counter)
    warnings = rules.warnings(snap, values, bill, cycle_closes_on(today))
    token = quotes.issue(
        ctx.settings.key,
        line_id=snap.line_id,
        version=snap.version,
        usage_upto=loaded.usage_max_id,
        now=now,
        valid_minutes=values.quote_valid_minutes,
        policy=policy_fingerprint(ctx),
    )
    return {
        "eligible": not blockers,
        "blockers": [notice_json(b.as_dict()) for b in blockers],
        "warnings": [notice_json(w.as_dict()) for w in warnings],
        "quote": quote_json(quotes.sign(ctx.settings.key, token), token.valid_until, bill),
    }


def check(ctx: Context, msisdn: str, *, channel: str = "online") -> CheckOut:
    """Every blocker, the warnings and a priced quote, as a model (the pages and tests)."""
    return CheckOut.model_validate(check_json(ctx, msisdn, channel=channel))


# --- refusals --------------------------------------------------------------------------


def record_refusal(
    ctx: Context,
    line: Line,
    channel: str,
    blockers: list[rules.Blocker],
    at: dt.datetime,
    *,
    store_code: str | None = None,
    staff_login: str | None = None,
) -> Refusal:
    """The subscriber's evidence: the refusal with each blocker as shown (messages, remedy)
    and a reference for its notice (拒绝销户告知书), in the log and the audit chain."""
    codes = [b.code for b in blockers]
    refusal = Refusal(
        line_id=line.id,
        province_code=line.province_code,
        channel=channel,
        codes=codes,
        at=at,
        reference=reference("RF", line.province_code, local_date(at).isoformat()),
        store_code=store_code,
        staff_login=staff_login,
        blockers=[b.as_dict() for b in blockers],
    )
    ctx.session.add(refusal)
    ctx.session.flush()
    line_event(
        ctx,
        "cancellation.refused",
        line.msisdn,
        line.province_code,
        {
            "channel": channel,
            "codes": codes,
            "reference": refusal.reference,
            **({"store_code": store_code} if store_code else {}),
        },
        at=at,
    )
    return refusal


# --- the cancellation ------------------------------------------------------------------


def cancel(
    ctx: Context,
    msisdn: str,
    request: CancellationRequest,
    *,
    channel: str = "online",
    counter: rules.AtCounter | None = None,
    staff_login: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> CancellationOut:
    """Cancel the line at the quoted amounts, in the caller's transaction.

    Blocked: the refusal is logged (the subscriber's evidence) and CANCELLATION_BLOCKED raised
    with `keep_writes=True`. Nothing before the block check writes (locks and reads only), so
    what the caller commits with the 409 is exactly the refusal. At a store (`counter`) the
    row and the refusal name the store and the clerk, a cash refund comes out of its drawer,
    and `evidence` (the documents seen, masked) goes into the audit event."""
    route_in = request.refund_route
    other = route_in.to_msisdn if route_in.kind == "transfer" else None
    line, target = lock_lines(ctx, msisdn, other)
    now = ctx.now()
    if line.status == LineStatus.CANCELLED:
        latest = latest_cancellation(ctx.session, line.id)
        raise DomainError(
            "ALREADY_CANCELLED",
            f"line {mask_msisdn(msisdn)} is already cancelled",
            cancellation_id=latest.id if latest else None,
        )
    confirm_real_name(ctx, line, request.real_name.name, request.real_name.id_number)
    token = token_for(ctx, line, request.quote_id)
    quoted, current = snapshot.load_for_cancel(
        ctx.session, line.id, token.usage_upto if token else 0
    )
    today = local_date(now)
    values = policy_values(ctx, line.province_code, today)
    blockers = rules.check_cancellation(current.snapshot, values, today, channel, None, counter)
    store_code = counter.store_code if counter else None
    if blockers:
        codes = tuple(b.code for b in blockers)
        record_refusal(
            ctx, line, channel, blockers, now, store_code=store_code, staff_login=staff_login
        )
        raise DomainError(
            "CANCELLATION_BLOCKED",
            "the line cannot be cancelled now: " + ", ".join(codes),
            blockers=[b.as_dict() for b in blockers],
            keep_writes=True,
        )
    bill, shown = quoted_bill(ctx, line, token, quoted)
    require_acknowledged(shown, request.acknowledged_warnings)
    route = refund_route(line, target, request, values, current, store_code)
    if token is None:  # quoted_bill refuses a cancellation without a quote
        raise InvariantViolated("a cancellation got past its checks without a quote")
    with ctx.session.no_autoflush:
        accepted = Accepted(
            line,
            target,
            bill,
            route,
            values,
            channel,
            request.quote_id,
            token,
            store_code=store_code,
            staff_login=staff_login,
            evidence=evidence,
        )
        c = execute(ctx, accepted)
        return to_out(c, refund_status(ctx, c))


# --- reading ---------------------------------------------------------------------------


def refund_status(ctx: Context, c: Cancellation) -> str | None:
    """The status of the refund made at cancellation (None when nothing was refunded now)."""
    return ctx.session.scalar(
        select(Refund.status).where(Refund.cancellation_id == c.id, Refund.kind == "now")
    )


def to_out(c: Cancellation, refund_status: str | None = None) -> CancellationOut:
    settlement = None
    if c.account_status == rules.AccountStatus.CLOSED and c.closed_at is not None:
        settlement = SettlementOut(
            trued_up_fen=c.trued_up_fen or 0,
            late_usage_fen=c.late_usage_fen or 0,
            shortfall_fen=c.shortfall_fen or 0,
            closed_at=c.closed_at,
        )
    route = {k: v for k, v in c.route.items() if k != "to_line_id"}
    return CancellationOut.model_validate(
        {
            "id": c.id,
            "reference": c.reference,
            "msisdn": c.msisdn,
            "status": c.status,
            "account_status": c.account_status,
            "cancelled_at": c.cancelled_at,
            "undo_until": c.undo_until,
            "reversed_at": c.reversed_at,
            "final_charges": c.final_charges,
            "charges_fen": c.charges_fen,
            "forfeited_fen": c.forfeited_fen,
            "refund": RefundOut(
                refund_now_fen=c.refund_now_fen,
                reserve_fen=c.reserve_fen,
                route=route,
                status=refund_status,
            ),
            "settlement": settlement,
            "receipt_url": receipt_url(c.id),
        }
    )


def find(ctx: Context, cancellation_id: str) -> Cancellation:
    c = ctx.session.get(Cancellation, cancellation_id)
    if c is None:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
    return c


def get_cancellation(ctx: Context, cancellation_id: str) -> CancellationOut:
    c = find(ctx, cancellation_id)
    return to_out(c, refund_status(ctx, c))


# --- the reversal ----------------------------------------------------------------------


def reverse(ctx: Context, cancellation_id: str) -> CancellationOut:
    """Undo a cancellation inside the window (返销): the line and its services come back, the
    final charges and the gift forfeiture are reversed (the line goes on, and its cycle will be
    billed as usual), the reserve stays on the line as cash, the number leaves quarantine.

    What was paid out is not taken back: the refund went to the subscriber's account through
    the gateway (or to another of their lines) the moment the cancellation committed, so the
    subscriber keeps it and tops the line up if they want more on it. Repeating the reversal
    is harmless."""
    c = undo(ctx, find(ctx, cancellation_id))
    return to_out(c, refund_status(ctx, c))
