"""Paying online and reading bills: the ARREARS remedy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xiaohu.billing import service
from xiaohu.billing.schemas import BillOut, BillsOut, PaymentIn, PaymentOut
from xiaohu.identity.deps import require_line
from xiaohu.identity.tokens import TokenClaims
from xiaohu.kit.errors import error_responses
from xiaohu.kit.web import UnitOfWork, run_idempotent

router = APIRouter(prefix="/api/v1/lines", tags=["billing"])


@router.post(
    "/{msisdn}/payments",
    status_code=201,
    response_model=PaymentOut,
    summary="Pay online: oldest unpaid bills first, the rest to the cash balance",
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "LINE_NOT_FOUND",
        "ALREADY_CANCELLED",
        "PAYMENT_DECLINED",
        "VALIDATION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
    ),
)
def pay(
    msisdn: str,
    body: PaymentIn,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    """Send an `Idempotency-Key`: a retry returns the first answer and never pays twice."""
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        result = service.pay(ctx, msisdn, body.amount_fen, idempotency_key=key)
        return 201, result.as_dict()

    return run_idempotent(ctx, request, f"payments:{msisdn}", body.model_dump(), work)


@router.get(
    "/{msisdn}/bills",
    response_model=BillsOut,
    summary="The line's bills, newest period first, with what is still owed",
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND"),
)
def bills(
    msisdn: str,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> BillsOut:
    rows = service.list_bills(ctx, msisdn)
    return BillsOut(
        msisdn=msisdn,
        bills=[
            BillOut(
                period=b.period,
                kind=b.kind,
                amount_fen=b.amount_fen,
                paid_fen=b.paid_fen,
                due_on=b.due_on.isoformat() if b.due_on else None,
                status=b.status,
            )
            for b in rows
        ],
        arrears_fen=sum(b.amount_fen - b.paid_fen for b in rows if b.status == "unpaid"),
    )
