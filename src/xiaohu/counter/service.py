"""The store channel's use cases: the check, a payment, the cancellation and the reversal at a
counter, and what a counter clears at once (a lost state lifted, real name registered).

Why it calls the online use cases rather than its own: a store cancels the same way the app
does (the same quote, blockers, ledger and notices), so `cancellation.service` and
`billing.service` take the channel's differences as parameters (the store and its kind, the
clerk, a cash refund from the drawer, a payment's source). What is the counter's own is here:
the documents (`rules.py`), the clerk's province and store, and the audit evidence of the
originals seen. The unit of work's actor is the clerk (`staff.deps`), so every audit event the
request writes names them.
"""

from __future__ import annotations

from typing import Any

from xiaohu.audit.service import line_event
from xiaohu.billing import service as billing
from xiaohu.billing.schemas import PaymentOut
from xiaohu.cancellation import service as cancellation
from xiaohu.cancellation.acceptance import lock_lines
from xiaohu.cancellation.rules import AtCounter
from xiaohu.cancellation.schemas import CancellationOut, CancellationRequest, RealNameIn
from xiaohu.cancellation.terms import policy_values
from xiaohu.counter import rules
from xiaohu.counter.schemas import (
    CounterActionOut,
    Documents,
    StoreCancellationRequest,
    StoreCheckIn,
    StorePaymentIn,
)
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import confirm_real_name
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line, LineStatus
from xiaohu.lines.service import get_line, lock_line
from xiaohu.notifications.service import order_provisioning
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.stores.models import Store
from xiaohu.workorders import rules as review_rules
from xiaohu.workorders import service as workorders

CHANNEL = "store"


# --- who, where, with what ------------------------------------------------------------


def store_of(ctx: Context, staff: StaffClaims) -> Store:
    """The clerk's store (the token names it; the row must still be there)."""
    store = ctx.session.get(Store, staff.store_code) if staff.store_code else None
    if store is None:
        raise DomainError("STORE_NOT_FOUND", f"no store {staff.store_code!r} for {staff.login}")
    return store


def line_for(ctx: Context, staff: StaffClaims, msisdn: str, *, lock: bool = True) -> Line:
    """The line, locked, of whichever province: a store serves any province's lines, under
    the line's home province's rules (its policy decides which kinds of store may cancel)."""
    return lock_line(ctx.session, msisdn) if lock else get_line(ctx.session, msisdn)


def documents_seen(
    ctx: Context, staff: StaffClaims, line: Line, documents: Documents, action: str
) -> rules.SeenDocuments:
    """The documents checked (`rules.check_documents`) and the owner's matched to the line's
    owner through the blind index (`identity.service.confirm_real_name`, whose mismatch count
    applies at a counter too). A missing piece or an agent who is the owner is refused with
    an audit event naming the clerk and the store, kept with the 422 as evidence."""
    try:
        seen = rules.check_documents(documents)
    except DomainError as err:
        if err.code not in ("DOCUMENTS_MISSING", "AGENT_IS_OWNER"):
            raise
        line_event(
            ctx,
            "store.documents_refused",
            line.msisdn,
            line.province_code,
            {"action": action, "store_code": staff.store_code, "code": err.code, **err.extra},
        )
        raise DomainError(
            err.code, err.detail, errors=err.errors, keep_writes=True, **err.extra
        ) from None
    confirm_real_name(
        ctx,
        line,
        seen.owner.name,
        seen.owner.id_number,
        id_type=seen.owner.id_type,
        field="documents.owner.id_number",
    )
    return seen


def at_counter(ctx: Context, store: Store, line: Line, seen: rules.SeenDocuments) -> AtCounter:
    """The store's side of the check, under the line's home province's policy. (A partner
    hall's refusal names the stores that can through `cancellation.where`, as every
    store-visit remedy does.)"""
    values = policy_values(ctx, line.province_code, local_date(ctx.now()))
    return AtCounter(
        store_code=store.code,
        store_kind=store.kind,
        kinds_allowed=tuple(values.store_kinds_allowed),
        in_person=seen.in_person,
    )


def _where(store: Store, line: Line) -> dict[str, Any]:
    """Who handles the line where: cross-region when the store is of another province than
    the line's home (the money it hands over or takes in is then a due between the two)."""
    return {
        "channel": CHANNEL,
        "store_code": store.code,
        "home_province": line.province_code,
        "handling_province": store.province_code,
        "cross_region": store.province_code != line.province_code,
    }


# --- the check, a payment, the cancellation ---------------------------------------------


def check(ctx: Context, staff: StaffClaims, body: StoreCheckIn) -> dict[str, Any]:
    """The online check's answer for the line, as this store sees it, plus where it is
    handled. A partner store gets CHANNEL_NOT_ALLOWED with the stores that can; the owner in
    person gets counter remedies for a lost state and a missing real-name registration."""
    store = store_of(ctx, staff)
    line = line_for(ctx, staff, body.msisdn)
    seen = documents_seen(ctx, staff, line, body.documents, "check")
    counter = at_counter(ctx, store, line, seen)
    out = cancellation.check_json(ctx, body.msisdn, channel=CHANNEL, counter=counter)
    return {**with_review(ctx, out, store, line), **_where(store, line)}


def with_review(ctx: Context, out: dict[str, Any], store: Store, line: Line) -> dict[str, Any]:
    """The check as a store answers it: a blocker the home province's back office decides (a
    fraud stop, a lifetime premium term; policy) leaves the blockers for `review_required`,
    and a province that reviews cross-region cancellations asks for one here too."""
    if out["quote"] is None:  # already cancelled
        return {**out, "review_required": False, "review_reasons": []}
    values = policy_values(ctx, line.province_code, local_date(ctx.now()))
    found = review_rules.review_json(
        out["blockers"], values, line.province_code, store.province_code
    )
    return {
        **out,
        "eligible": not found.blockers,
        "blockers": found.blockers,
        "review_required": found.required,
        "review_reasons": [str(t) for t in found.triggers],
    }


def counter_source(store: Store, staff: StaffClaims, method: str) -> billing.PaymentSource:
    """Money taken at this store's counter by this clerk, in cash (into the drawer) or by card."""
    return billing.PaymentSource(
        method=method,
        store_code=store.code,
        staff_login=staff.login,
        store_province=store.province_code,
    )


def pay(
    ctx: Context, staff: StaffClaims, body: StorePaymentIn, *, idempotency_key: str | None = None
) -> PaymentOut:
    """A payment at the counter: cash into the store's drawer, a card through the gateway."""
    store = store_of(ctx, staff)
    line_for(ctx, staff, body.msisdn)
    source = counter_source(store, staff, body.method)
    result = billing.pay(
        ctx, body.msisdn, body.amount_fen, idempotency_key=idempotency_key, source=source
    )
    return PaymentOut.model_validate(result.as_dict())


def cancel(
    ctx: Context, staff: StaffClaims, body: StoreCancellationRequest
) -> tuple[int, dict[str, Any]]:
    """The online cancellation, at this store: the owner's document is the real-name
    confirmation, the row and any refusal name the store and the clerk, and a cash refund is
    paid from the drawer at once."""
    store = store_of(ctx, staff)
    # Both lines of a transfer locked now, in the order the cancellation takes them (no
    # deadlock between two counters); the cancellation finds them held.
    route = body.refund_route
    line, target = lock_lines(
        ctx, body.msisdn, route.to_msisdn if route.kind == "transfer" else None
    )
    seen = documents_seen(ctx, staff, line, body.documents, "cancellation")
    counter = at_counter(ctx, store, line, seen)
    found = workorders.needs_review(ctx, line, store.province_code, counter)
    request = CancellationRequest(
        msisdn=body.msisdn,
        quote_id=body.quote_id,
        real_name=RealNameIn(name=seen.owner.name, id_number=seen.owner.id_number),
        refund_route=body.refund_route,
        acknowledged_warnings=body.acknowledged_warnings,
    )
    where = _where(store, line)
    if found.required:  # the home province's back office decides: 202 with the order
        c, order = workorders.open_review(
            ctx, staff, line, target, request, counter=counter,
            handling_province=store.province_code, found=found, evidence=seen.evidence(),
        )  # fmt: skip
        pending = cancellation.to_out(c).model_dump(mode="json")
        ref = {"id": order.id, "due_at": order.due_at.isoformat().replace("+00:00", "Z")}
        return 202, {**pending, **where, "review_reasons": order.reasons, "work_order": ref}
    out = cancellation.cancel(
        ctx,
        body.msisdn,
        request,
        channel=CHANNEL,
        counter=counter,
        staff_login=staff.login,
        evidence=seen.evidence(),
    )
    return 201, {**out.model_dump(mode="json"), **where}


def reverse(
    ctx: Context, staff: StaffClaims, cancellation_id: str, documents: Documents
) -> CancellationOut:
    """The reversal (返销) at a counter, on the owner's documents (a proxy with the letter as
    for a cancellation). As online, a refund already paid, cash included, is not taken back."""
    c = cancellation.find(ctx, cancellation_id)
    line = line_for(ctx, staff, c.msisdn)
    seen = documents_seen(ctx, staff, line, documents, "reversal")
    line_event(
        ctx,
        "store.documents_seen",
        line.msisdn,
        line.province_code,
        {
            "action": "reversal",
            "cancellation_id": c.id,
            "store_code": staff.store_code,
            "documents": seen.evidence(),
        },
    )
    return cancellation.reverse(ctx, cancellation_id)


# --- what a counter clears at once ----------------------------------------------------


def _owner_in_person(
    ctx: Context, staff: StaffClaims, msisdn: str, documents: Documents, action: str
) -> tuple[Line, rules.SeenDocuments]:
    line = line_for(ctx, staff, msisdn)
    store_of(ctx, staff)
    seen = documents_seen(ctx, staff, line, documents, action)
    if not seen.in_person:
        raise DomainError(
            "NOT_AT_COUNTER",
            f"{action} for {mask_msisdn(msisdn)} needs the owner in person, not a proxy",
        )
    return line, seen


def _done(line: Line) -> CounterActionOut:
    return CounterActionOut(
        msisdn=line.msisdn,
        status=line.status,
        real_name_verified=line.real_name_verified,
        version=line.version,
    )


def lift_lost_state(
    ctx: Context, staff: StaffClaims, msisdn: str, documents: Documents
) -> CounterActionOut:
    """解挂: the owner in person, with the ID original, ends a lost (挂失) state; the line is
    active again and its service restored. Fraud stops and judicial freezes are not the
    counter's to lift."""
    line, seen = _owner_in_person(ctx, staff, msisdn, documents, "lift_lost_state")
    if line.status != LineStatus.LOST:
        raise DomainError(
            "NOTHING_TO_CLEAR",
            f"{mask_msisdn(msisdn)} is {line.status}, not lost",
            state=line.status,
        )
    now = ctx.now()
    line.status = LineStatus.ACTIVE
    line.status_reason = "lost_lifted_at_counter"
    line.status_changed_at = now
    line.updated_at = now
    order_provisioning(ctx.session, msisdn, "restore", at=now, province_code=line.province_code)
    ctx.session.flush()  # bumps the line's version: a quote made before is stale
    line_event(
        ctx,
        "line.lost_lifted",
        msisdn,
        line.province_code,
        {"from": "lost", "to": "active", "store_code": staff.store_code,
         "documents": seen.evidence()},
        at=now,
    )  # fmt: skip
    return _done(line)


def register_real_name(
    ctx: Context, staff: StaffClaims, msisdn: str, documents: Documents
) -> CounterActionOut:
    """实名补登记: the owner in person shows the ID original that matches the registered
    owner; the line is real-name verified from now on."""
    line, seen = _owner_in_person(ctx, staff, msisdn, documents, "register_real_name")
    if line.real_name_verified:
        raise DomainError(
            "NOTHING_TO_CLEAR", f"{mask_msisdn(msisdn)} is already real-name verified"
        )
    now = ctx.now()
    line.real_name_verified = True
    line.updated_at = now
    ctx.session.flush()
    line_event(
        ctx,
        "line.real_name_registered",
        msisdn,
        line.province_code,
        {"store_code": staff.store_code, "documents": seen.evidence()},
        at=now,
    )
    return _done(line)
