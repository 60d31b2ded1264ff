"""Paying online and reading bills: the ARREARS remedy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xiaohu.billing import service
from xiaohu.billing.schemas import BillOut, BillsOut, PaymentIn, PaymentOut
from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.identity.deps import bearer_claims, require_line
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.principals import TokenClaims

router = APIRouter(prefix="/api/v1/lines", tags=["billing"])


def require_payer(
    msisdn: str, ctx: UnitOfWork, claims: TokenClaims = Depends(bearer_claims)
) -> TokenClaims:
    """The line's own token, or the token of another line of the same owner. Paying is the
    one thing a token may do for the owner's other lines: where arrears on any of the owner's
    lines block (owner scope), the check's ARREARS remedy points at the line that owes, and
    the same token must be able to follow it (API.md); a cancelled line's shortfall is paid
    the same way."""
    if claims.msisdn == msisdn or service.same_owner(ctx, claims.line_id, msisdn):
        return claims
    raise DomainError("FORBIDDEN", "this token acts on another owner's line")


@router.post(
    "/{msisdn}/payments",
    status_code=201,
    response_model=PaymentOut,
    summary="Pay online: oldest unpaid bills first, the rest to the cash balance",
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "LINE_NOT_FOUND",
        "PAYMENT_EXCEEDS_OWED",
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
    claims: TokenClaims = Depends(require_payer),
) -> JSONResponse:
    """Send an `Idempotency-Key`: a retry returns the first answer and never pays twice.

    A token of any line of the same owner may pay (under owner-scoped arrears the check's
    ARREARS remedy points at the line that owes). A cancelled line takes payments up to what
    it still owes (a true-up's shortfall), straight to its bills; more is
    `PAYMENT_EXCEEDS_OWED`, as is more than a line owes when another line's token pays."""
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        result = service.pay(
            ctx,
            msisdn,
            body.amount_fen,
            idempotency_key=key,
            bills_only=claims.msisdn != msisdn,  # another line's token settles bills only
        )
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
