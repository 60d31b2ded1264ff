"""Reclaim during quarantine (号码找回): the former owner takes a cancelled number back at a
store's counter, before it can be issued to anyone else.

How the number comes back, given that `lines.msisdn` is unique: the cancelled Line row itself
becomes the new active line. Its closed account is settled first (a `settling` account is
trued up now, as the cycle close would: late usage paid from the reserve, the rest refunded
to the route chosen at cancellation, a shortfall left as an unpaid bill of the number), so
the new line starts with zero balances. What the closed account still owes (a debt an
automatic cancellation kept, a true-up's shortfall) is paid first: `409 ARREARS` with
`amount_fen` until it is (the clerk takes it with `POST /api/v1/store/payments`, which settles
a cancelled number's bills); a true-up done for the refused reclaim stands, so its shortfall
is there to be paid. It is `active` with `status_reason` "reclaimed", `opened_on`
today, its plan as before and its lifecycle dates cleared; the Cancellation keeps its history
and gets `reclaimed_at` (for the recycled-number check the number never changed hands); the
number is `assigned` again; the network is told to restore service.

Refused: NOT_IN_QUARANTINE when the number is not resting in quarantine for that line (never
cancelled, reversed, released, issued again, its quarantine over) or when the cancellation
can still be reversed (use the reversal there: it puts the old account back, balances
included); NOT_FORMER_OWNER when the owner's document is not the former owner's (the counter's
document check, `service.documents_seen`, with its mismatch count and lock-out). A store of a
kind the home province's policy does not let cancel (a partner hall) may not reclaim either.

The fee (policy `reclaim_fee_fen` of the home province, default 0) is paid at the counter:
cash into the store's drawer (at a store of another province, a due to the home province, as
every counter payment), or a card through the gateway; Dr drawer/gateway, Cr revenue.
"""

from __future__ import annotations

from typing import Any

from xiaohu.audit.service import line_event
from xiaohu.billing import service as billing
from xiaohu.cancellation.cycle import Report, settle
from xiaohu.cancellation.models import Cancellation, latest_cancellation
from xiaohu.cancellation.rules import AccountStatus, CancellationStatus, undo_open
from xiaohu.cancellation.terms import policy_values
from xiaohu.counter.reclaim_schemas import ReclaimIn, ReclaimOut
from xiaohu.counter.service import counter_source, documents_seen, store_of
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan
from xiaohu.ledger.rules import credit
from xiaohu.ledger.service import post
from xiaohu.lines.addressing import sms_about
from xiaohu.lines.models import Line, LineStatus
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import order_provisioning
from xiaohu.numbers import service as numbers
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.stores.models import Store

REASON = "reclaimed"


def _not_in_quarantine(msisdn: str, why: str, **extra: Any) -> DomainError:
    return DomainError("NOT_IN_QUARANTINE", f"{mask_msisdn(msisdn)} {why}", **extra)


def reclaimable(ctx: Context, msisdn: str) -> tuple[Line, Cancellation]:
    """The cancelled line, locked, and its standing cancellation, while its number rests in
    quarantine for it and the undo window is closed; else NOT_IN_QUARANTINE."""
    try:
        line = lock_line(ctx.session, msisdn)
    except DomainError:
        raise _not_in_quarantine(msisdn, "was never cancelled here") from None
    if line.status != LineStatus.CANCELLED:
        raise _not_in_quarantine(msisdn, f"is {line.status}, not cancelled", state=line.status)
    c = latest_cancellation(ctx.session, line.id)
    if c is None or c.status != CancellationStatus.CANCELLED or c.reclaimed_at is not None:
        raise _not_in_quarantine(msisdn, "has no standing cancellation")
    if undo_open(c, ctx.now()):
        raise _not_in_quarantine(
            msisdn,
            "can still be reversed: use the reversal (返销) inside the undo window",
            cancellation_id=c.id,
            undo_until=c.undo_until,
        )
    return line, c


def _store_may(ctx: Context, store: Store, line: Line) -> None:
    values = policy_values(ctx, line.province_code, local_date(ctx.now()))
    if store.kind not in values.store_kinds_allowed:
        raise DomainError(
            "FORBIDDEN",
            f"a {store.kind} store cannot reclaim numbers of province {line.province_code}; "
            "any own store can",
            store_kind=store.kind,
            kinds_allowed=list(values.store_kinds_allowed),
        )


def _former_owner(ctx: Context, staff: StaffClaims, line: Line, body: ReclaimIn) -> dict[str, Any]:
    """The counter's document check against the line's owner; a mismatch is
    NOT_FORMER_OWNER (counted and kept, as REAL_NAME_MISMATCH is)."""
    try:
        seen = documents_seen(ctx, staff, line, body.documents, "reclaim")
    except DomainError as err:
        if err.code != "REAL_NAME_MISMATCH":
            raise
        raise DomainError(
            "NOT_FORMER_OWNER",
            f"the owner's document is not that of {mask_msisdn(line.msisdn)}'s former owner",
            keep_writes=True,
            **err.extra,
        ) from None
    return seen.evidence()


def reclaim(
    ctx: Context,
    staff: StaffClaims,
    msisdn: str,
    body: ReclaimIn,
    *,
    idempotency_key: str | None = None,
) -> ReclaimOut:
    """The number back to its former owner as a new active line (module docstring)."""
    store = store_of(ctx, staff)
    line, c = reclaimable(ctx, msisdn)
    record = numbers.quarantined_for(ctx, line)
    if record is None:
        raise _not_in_quarantine(msisdn, "is not resting in quarantine (released or reissued)")
    _store_may(ctx, store, line)
    evidence = _former_owner(ctx, staff, line, body)
    now, p = ctx.now(), line.province_code
    if c.account_status == AccountStatus.SETTLING:  # its true-up now, not at the cycle close
        settle(ctx, c.id, Report(period=c.period))
        ctx.session.refresh(c)
    owed = billing.arrears_fen(ctx.session, [line.id])
    if owed > 0:  # the closed account's debt (kept as a receivable, or a true-up's shortfall)
        refusal = billing.owes(msisdn, owed, at_counter=True)
        refusal.keep_writes = True  # the true-up stands: its shortfall is the bill to pay
        raise refusal
    fee = policy_values(ctx, p, local_date(now)).reclaim_fee_fen
    payment = _take_fee(ctx, staff, store, line, fee, body, idempotency_key, c)
    line.status = LineStatus.ACTIVE
    line.status_reason = REASON
    line.status_changed_at = now
    line.opened_on = local_date(now)
    line.arrears_since = line.retained_on = line.retention_starts_on = None
    line.updated_at = now
    c.reclaimed_at = now
    numbers.assign(ctx, record)
    order_provisioning(ctx.session, msisdn, "restore", at=now, province_code=p)
    ctx.session.flush()
    sms_about(  # active again: to the number itself
        ctx,
        line,
        f"【销户服务】号码{mask_msisdn(msisdn)}已由原机主找回并重新开通，"
        f"原销户（受理编号{c.reference}）的账户已结清。"
        + (f"已收取号码找回费{yuan(fee)}。" if fee else ""),
        "number.reclaimed",
        at=now,
    )
    cross = store.province_code != p
    line_event(
        ctx,
        "number.reclaimed",
        msisdn,
        p,
        {
            "cancellation_id": c.id,
            "store_code": store.code,
            "handling_province": store.province_code,
            "cross_region": cross,
            "reclaim_fee_fen": fee,
            "payment_id": payment,
            "documents": evidence,
        },
        at=now,
    )
    return ReclaimOut(
        msisdn=msisdn,
        status=line.status,
        status_reason=REASON,
        opened_on=local_date(now),
        home_province=p,
        cancellation_id=c.id,
        reclaim_fee_fen=fee,
        payment_id=payment,
        payment_method=body.payment_method if fee else None,
        store_code=store.code,
        handling_province=store.province_code,
        cross_region=cross,
    )


def _take_fee(
    ctx: Context,
    staff: StaffClaims,
    store: Store,
    line: Line,
    fee: int,
    body: ReclaimIn,
    idempotency_key: str | None,
    c: Cancellation,
) -> str | None:
    """The fee at the counter: Dr the drawer (or a due, or the gateway) / Cr revenue."""
    if fee <= 0:
        return None
    source = counter_source(store, staff, body.payment_method)
    key = f"reclaim:{line.msisdn}:{c.id}:{idempotency_key or c.id}:{fee}"
    taken = billing.take_payment(
        ctx, line, fee, idempotency_key=key, purpose=f"reclaim:{c.id}", source=source
    )
    if taken.replayed:
        return taken.payment.id
    p = line.province_code
    post(
        ctx.session,
        "reclaim.fee",
        [
            source.debit_leg(ctx, line, fee, ref=taken.payment.id),
            credit(f"revenue:{p}", fee),
        ],
        at=ctx.now(),
        ref=taken.payment.id,
        province_code=p,
    )
    taken.payment.applied = [{"kind": "reclaim_fee", "amount_fen": fee}]
    return taken.payment.id
