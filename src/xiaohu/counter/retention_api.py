"""Retention (停机保号) and reactivation (复机) at a store's counter: a clerk's token, the owner's
documents in the body (a proxy as for a cancellation), the line of any province.

Here, not in `retention`, because the documents are the counter's (`counter.rules`,
`counter.service.documents_seen`) and retention sits below the store channel; the use cases
are `retention.service`'s, with the store as their channel (and as the payment's source when
the owed amount is taken at the counter with a reactivation)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from xiaohu.counter import service as counter
from xiaohu.counter.schemas import Documents
from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.kit.errors import error_responses
from xiaohu.principals import StaffClaims
from xiaohu.retention import service
from xiaohu.retention.schemas import ReactivatedOut, RetainedOut
from xiaohu.runtime import Context
from xiaohu.staff.deps import require_role
from xiaohu.staff.models import Role
from xiaohu.stores.models import Store

router = APIRouter(prefix="/api/v1/store", tags=["store"])
clerk = require_role(Role.CLERK)

_ERRORS = (
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "STORE_NOT_FOUND",
    "LINE_NOT_FOUND",
    "DOCUMENTS_MISSING",
    "AGENT_IS_OWNER",
    "REAL_NAME_MISMATCH",
    "REAL_NAME_LOCKED",
    "VALIDATION_FAILED",
    "IDEMPOTENCY_KEY_REUSED",
)


class StoreRetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: Documents


class StoreReactivationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: Documents
    payment_method: Literal["cash", "card"] | None = None  # take what is owed with it


def _at_counter(
    ctx: Context, staff: StaffClaims, msisdn: str, documents: Documents, action: str
) -> tuple[service.Channel, Store]:
    """The clerk's store, the line locked, the owner's documents checked: the channel for the
    audit event, and the store."""
    store = counter.store_of(ctx, staff)
    line = counter.line_for(ctx, staff, msisdn)
    seen = counter.documents_seen(ctx, staff, line, documents, action)
    return service.Channel("store", store.code, seen.evidence()), store


@router.post(
    "/lines/{msisdn}/retention",
    status_code=201,
    response_model=RetainedOut,
    summary="Apply for retention (停机保号) at the counter, on the owner's documents",
    responses=error_responses(*_ERRORS, "RETENTION_BLOCKED"),
)
def store_retention(
    msisdn: str,
    body: StoreRetentionIn,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        channel, _ = _at_counter(ctx, staff, msisdn, body.documents, "retention")
        return 201, service.apply(ctx, msisdn, channel)

    scope = f"store-retention:{msisdn}"
    return run_idempotent(ctx, request, scope, body.model_dump(mode="json"), work)


@router.post(
    "/lines/{msisdn}/reactivation",
    response_model=ReactivatedOut,
    summary="Reactivate (复机) at the counter; optionally taking what is owed (cash or card)",
    description=(
        "With `payment_method` the amount owed is taken first (cash into the store's drawer, "
        "a card through the gateway) and the line reactivated with it; without it a line "
        "that owes is `409 ARREARS` with `amount_fen`."
    ),
    responses=error_responses(*_ERRORS, "ARREARS", "NOT_SUSPENDED", "PAYMENT_DECLINED"),
)
def store_reactivation(
    msisdn: str,
    body: StoreReactivationIn,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
) -> JSONResponse:
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        channel, store = _at_counter(ctx, staff, msisdn, body.documents, "reactivation")
        payment = None
        if body.payment_method is not None:
            payment = counter.counter_source(store, staff, body.payment_method)
        out = service.reactivate(ctx, msisdn, channel, payment=payment, idempotency_key=key)
        return 200, out

    scope = f"store-reactivation:{msisdn}"
    return run_idempotent(ctx, request, scope, body.model_dump(mode="json"), work)
