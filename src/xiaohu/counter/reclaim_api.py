"""Reclaim during quarantine over HTTP (API.md Part 2, "Lifecycle"): a clerk's token, the
former owner's documents. Thin: `reclaim.py` decides."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xiaohu.counter import reclaim
from xiaohu.counter.reclaim_schemas import ReclaimIn, ReclaimOut
from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.kit.errors import error_responses
from xiaohu.principals import StaffClaims
from xiaohu.staff.deps import require_role
from xiaohu.staff.models import Role

router = APIRouter(prefix="/api/v1/store", tags=["store"])
clerk = require_role(Role.CLERK)


@router.post(
    "/numbers/{msisdn}/reclaim",
    status_code=201,
    response_model=ReclaimOut,
    summary="Give a number in quarantine back to its former owner (号码找回)",
    description=(
        "The cancelled line becomes active again as a new line (opened today, zero balances, "
        '`status_reason` "reclaimed"), its closed account settled first. The reclaim fee '
        "(policy `reclaim_fee_fen`, default 0) is taken at the counter: `cash` into the "
        "drawer or `card` through the gateway. `409 NOT_IN_QUARANTINE`: never cancelled, "
        "reversed, released, reissued, or still inside the undo window (use the reversal "
        "there). `403 NOT_FORMER_OWNER`: the owner's document is not the former owner's. "
        "Accepts `Idempotency-Key`."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "STORE_NOT_FOUND",
        "NOT_IN_QUARANTINE",
        "NOT_FORMER_OWNER",
        "REAL_NAME_LOCKED",
        "DOCUMENTS_MISSING",
        "AGENT_IS_OWNER",
        "ARREARS",
        "PAYMENT_DECLINED",
        "VALIDATION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
    ),
)
def reclaim_number(
    msisdn: str,
    body: ReclaimIn,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(clerk),
) -> JSONResponse:
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        return 201, reclaim.reclaim(ctx, staff, msisdn, body, idempotency_key=key)

    return run_idempotent(ctx, request, f"reclaim:{msisdn}", body.model_dump(mode="json"), work)
