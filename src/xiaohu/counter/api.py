"""The store channel over HTTP (API.md Part 2, "Cancellation at a store"): a clerk's token,
a line of any province (cross-region: under the line's home rules), the documents in the
body. Thin: `service.py` decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from xiaohu import principals
from xiaohu.billing.schemas import PaymentOut
from xiaohu.cancellation import service as cancellation
from xiaohu.cancellation.schemas import CancellationOut
from xiaohu.counter import drawer, service
from xiaohu.counter.schemas import (
    CounterActionOut,
    Documents,
    DocumentsIn,
    DrawerReportOut,
    ReversalIn,
    StoreCancellationOut,
    StoreCancellationRequest,
    StoreCheckIn,
    StoreCheckOut,
    StorePaymentIn,
)
from xiaohu.http import UnitOfWork, bearer_token, run_idempotent
from xiaohu.identity.deps import bearer_claims
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.deps import require_role
from xiaohu.staff.models import Role

router = APIRouter(prefix="/api/v1/store", tags=["store"])
# The reversal takes either principal (a line token, or a clerk with the documents), so it
# lives here, above both: the cancellation area cannot see the counter's documents.
reversal_router = APIRouter(tags=["cancellation"])
clerk = require_role(Role.CLERK)


def mount(app: FastAPI) -> None:
    """Called by the app factory after `router`."""
    app.include_router(reversal_router)


_STAFF = ("UNAUTHENTICATED", "FORBIDDEN", "STORE_NOT_FOUND")
_DOCUMENTS = (
    "LINE_NOT_FOUND",
    "DOCUMENTS_MISSING",
    "AGENT_IS_OWNER",
    "REAL_NAME_MISMATCH",
    "REAL_NAME_LOCKED",
    "VALIDATION_FAILED",
)


@router.post(
    "/cancellation-checks",
    response_model=StoreCheckOut,
    summary="The cancellation check at a counter, on the documents in hand",
    description=(
        "The online check's answer plus where the line is handled. A store whose kind may not "
        "cancel gets `CHANNEL_NOT_ALLOWED` with the stores that can; for the owner in person "
        "a lost state and a missing real-name registration have counter remedies "
        '(`"where": "counter"`). A clerk of any province may act on the line (`cross_region`: '
        "the line's home province's rules apply; cash moved is a due between the two)."
    ),
    responses=error_responses(*_STAFF, *_DOCUMENTS),
)
def store_check(
    body: StoreCheckIn, ctx: UnitOfWork, staff: StaffClaims = Depends(clerk)
) -> JSONResponse:
    return JSONResponse(service.check(ctx, staff, body))


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentOut,
    summary="A payment at the counter: cash into the drawer, or a card through the gateway",
    responses=error_responses(
        *_STAFF,
        "LINE_NOT_FOUND",
        "PAYMENT_DECLINED",
        "PAYMENT_EXCEEDS_OWED",
        "VALIDATION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
    ),
)
def store_payment(
    body: StorePaymentIn,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
) -> JSONResponse:
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        return 201, service.pay(ctx, staff, body, idempotency_key=key)

    scope = f"store-payments:{staff.store_code}:{body.msisdn}"
    return run_idempotent(ctx, request, scope, body.model_dump(), work)


@router.post(
    "/cancellations",
    status_code=201,
    response_model=StoreCancellationOut,
    summary="Cancel at the counter at the quoted amounts; a cash refund from the drawer",
    description=(
        "The owner's document is the real-name confirmation (a proxy also shows their own and "
        "the letter of authorization). Refund `cash` is paid from the store's drawer at once; "
        "`original`, `bank_card` and `transfer` as online. Accepts `Idempotency-Key`. A line "
        "the home province's back office must decide (`review_required` in the check) is "
        '`202` with `"status": "pending_review"` and the `work_order` `{id, due_at}`; such a '
        "request cannot take a cash refund (`REFUND_ROUTE_INVALID`): it completes after the "
        "person has left."
    ),
    responses={
        202: {"model": StoreCancellationOut, "description": "waiting for the home province"},
        **error_responses(
            *_STAFF,
            *_DOCUMENTS,
            "CANCELLATION_BLOCKED",
            "REVIEW_PENDING",
            "ALREADY_CANCELLED",
            "QUOTE_NOT_FOUND",
            "QUOTE_EXPIRED",
            "WARNINGS_NOT_ACKNOWLEDGED",
            "REFUND_ROUTE_INVALID",
            "IDEMPOTENCY_KEY_REUSED",
        ),
    },
)
def store_cancellation(
    body: StoreCancellationRequest,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        return service.cancel(ctx, staff, body)

    scope = f"store-cancellation:{body.msisdn}"
    return run_idempotent(ctx, request, scope, body.model_dump(mode="json"), work)


_COUNTER_ACTION = error_responses(*_STAFF, *_DOCUMENTS, "NOT_AT_COUNTER", "NOTHING_TO_CLEAR",
                                  "IDEMPOTENCY_KEY_REUSED")  # fmt: skip


def _counter_action(
    action: Callable[[Context, StaffClaims, str, Documents], Any], scope: str
) -> Callable[..., JSONResponse]:
    """A route clearing a blocker at once, on the owner's documents: `action` does it, a
    replay under the same `Idempotency-Key` answers as the first time."""

    def route(
        msisdn: str,
        body: DocumentsIn,
        request: Request,
        ctx: UnitOfWork,
        staff: StaffClaims = Depends(clerk),
    ) -> JSONResponse:
        def work() -> tuple[int, Any]:
            return 200, action(ctx, staff, msisdn, body.documents)

        return run_idempotent(ctx, request, f"{scope}:{msisdn}", body.model_dump(), work)

    return route


router.post(
    "/lines/{msisdn}/lost-state/lift",
    name="lift_lost_state",
    response_model=CounterActionOut,
    summary="Lift a lost state (解挂): the owner in person, with the ID original",
    responses=_COUNTER_ACTION,
)(_counter_action(service.lift_lost_state, "lost-lift"))
router.post(
    "/lines/{msisdn}/real-name",
    name="register_real_name",
    response_model=CounterActionOut,
    summary="Register the line's real name (实名补登记): the owner in person, with the ID",
    responses=_COUNTER_ACTION,
)(_counter_action(service.register_real_name, "real-name"))


@router.get(
    "/drawer",
    response_model=DrawerReportOut,
    summary="The drawer's day (Asia/Shanghai): opening, movements, closing, the ledger's balance",
    responses=error_responses(*_STAFF, "VALIDATION_FAILED"),
)
def drawer_report(
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
    date: dt.date | None = Query(None, description="YYYY-MM-DD; today by default"),
    store_code: str | None = Query(None, max_length=32, description="the clerk's own store"),
) -> DrawerReportOut:
    if store_code is not None and store_code != staff.store_code:
        raise DomainError("FORBIDDEN", "a clerk reads their own store's drawer only")
    if staff.store_code is None:
        raise DomainError("STORE_NOT_FOUND", f"{staff.login} has no store")
    return drawer.report(ctx, staff.store_code, date or local_date(ctx.now()))


# --- the reversal: a line token (as online) or a clerk with the owner's documents ----------


@reversal_router.post(
    "/api/v1/cancellations/{cancellation_id}/reversal",
    response_model=CancellationOut,
    summary="Undo a cancellation within the undo window (返销)",
    description=(
        "With the line's token, no body. At a store, a clerk's token (of any province) "
        'and `{"documents"}` (the owner\'s; a proxy as for a cancellation). A refund already '
        "paid out, cash from a drawer included, is not taken back."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "CANCELLATION_NOT_FOUND",
        "UNDO_WINDOW_CLOSED",
        "NUMBER_REISSUED",
        "IDEMPOTENCY_KEY_REUSED",
        "DOCUMENTS_MISSING",
        "AGENT_IS_OWNER",
        "REAL_NAME_MISMATCH",
        "VALIDATION_FAILED",
    ),
)
def reverse_cancellation(
    cancellation_id: str,
    request: Request,
    ctx: UnitOfWork,
    body: ReversalIn | None = Body(None),
) -> JSONResponse:
    scope = f"reversal:{cancellation_id}"
    if principals.verify_staff(ctx.settings.key, bearer_token(request), ctx.now()) is not None:
        staff = clerk(request, ctx)
        documents = body.documents if body is not None and body.documents else Documents()

        def at_store() -> tuple[int, Any]:
            out = service.reverse(ctx, staff, cancellation_id, documents)
            return 200, out.model_dump(mode="json")

        return run_idempotent(ctx, request, scope, {}, at_store)
    claims = bearer_claims(request, ctx)
    c = cancellation.find(ctx, cancellation_id)
    if claims.line_id != c.line_id:
        raise DomainError("FORBIDDEN", "this token acts on another line")
    if body is not None and body.documents is not None:
        raise DomainError(
            "VALIDATION_FAILED",
            "documents are shown at a store's counter; the line's own token needs no body",
            errors=[{"field": "documents", "reason": "not accepted with a line token"}],
        )

    def online() -> tuple[int, Any]:
        return 200, cancellation.reverse(ctx, cancellation_id).model_dump(mode="json")

    return run_idempotent(ctx, request, scope, {}, online)
