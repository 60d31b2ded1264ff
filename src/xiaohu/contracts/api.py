"""Contracts of a line and ending one early online."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from xiaohu.contracts import service
from xiaohu.contracts.schemas import ContractOut, ContractsOut, TerminationIn, TerminationOut
from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.identity.deps import require_line
from xiaohu.kit.errors import error_responses
from xiaohu.principals import TokenClaims

router = APIRouter(prefix="/api/v1/lines", tags=["contracts"])


@router.get(
    "/{msisdn}/contracts",
    response_model=ContractsOut,
    summary="The line's contracts with today's early-termination penalty",
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND"),
)
def contracts(
    ctx: UnitOfWork,
    msisdn: str,
    claims: TokenClaims = Depends(require_line),
) -> ContractsOut:
    views = service.list_contracts(ctx, msisdn)
    return ContractsOut(
        msisdn=msisdn,
        contracts=[
            ContractOut(
                contract_id=v.contract.contract_ref,
                kind=v.contract.kind,
                status=v.contract.status,
                starts_on=v.contract.starts_on,
                ends_on=v.contract.ends_on,
                lifetime=v.contract.ends_on is None,
                in_term=v.in_term,
                remaining_months=v.penalty.remaining_months,
                penalty_fen=v.penalty.amount_fen,
                penalty_formula=v.penalty.formula,
                terminated_at=v.contract.terminated_at,
            )
            for v in views
        ],
    )


@router.post(
    "/{msisdn}/contracts/{contract_id}/early-termination",
    response_model=TerminationOut,
    summary="Pay the penalty and end a contract now (balance if it can spare it, else a payment)",
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "LINE_NOT_FOUND",
        "CONTRACT_NOT_FOUND",
        "CONTRACT_NOT_ACTIVE",
        "LIFETIME_TERM",
        "INSUFFICIENT_FUNDS",
        "PAYMENT_DECLINED",
        "ALREADY_CANCELLED",
        "IDEMPOTENCY_KEY_REUSED",
    ),
)
def terminate(
    ctx: UnitOfWork,
    msisdn: str,
    contract_id: str,
    request: Request,
    body: TerminationIn | None = Body(None),
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    """`pay_with`: `auto` (the default, also when left out): from the balances only when they
    cover the whole penalty on top of what the final bill and unpaid bills need, otherwise the
    whole penalty by a payment through the gateway; `balance` (balances only, 409
    INSUFFICIENT_FUNDS when short); `balance_first` (the balances first, the shortfall by a
    payment); `payment` (all through the gateway). A lifetime premium term answers `409
    LIFETIME_TERM` with the `complaint` route."""
    payload = body or TerminationIn()
    key = request.headers.get("Idempotency-Key")

    def work() -> tuple[int, Any]:
        result = service.terminate_early(
            ctx, msisdn, contract_id, pay_with=payload.pay_with, idempotency_key=key
        )
        return 200, result.as_dict()

    return run_idempotent(
        ctx,
        request,
        f"early-termination:{msisdn}:{contract_id}",
        payload.model_dump(),
        work,
    )
