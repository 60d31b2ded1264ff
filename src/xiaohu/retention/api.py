"""Retention (停机保号) and reactivation (复机) with the line's token (API.md Part 2,
"Lifecycle"). Thin: `service.py` decides. The store channel's routes are in
`counter.retention_api` (they need the counter's documents)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.identity.deps import require_line
from xiaohu.kit.errors import error_responses
from xiaohu.principals import TokenClaims
from xiaohu.retention import service
from xiaohu.retention.schemas import ReactivatedOut, RetainedOut, RetentionCheckOut

router = APIRouter(prefix="/api/v1/lines", tags=["lifecycle"])

_AUTH = ("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND")


def channel_of(claims: TokenClaims) -> service.Channel:
    """Online, or a hotline session (its agent is the unit of work's actor already)."""
    return service.Channel(name=claims.channel)


@router.get(
    "/{msisdn}/retention-check",
    response_model=RetentionCheckOut,
    summary="Can the line keep its number cheaply (停机保号)? Blockers, fee, months covered",
    description=(
        "Every blocker at once (`ARREARS`, `ABNORMAL_STATE` — also for a line already "
        "retained, arrears-suspended or cancelled, with `state` — `RETENTION_PREMIUM_TERM`, "
        "`RETENTION_FIRST_MONTH`), the monthly fee from `starts_on` (the retention fee plus "
        "contractual minimums still charged) and the whole months the balance covers."
    ),
    responses=error_responses(*_AUTH),
)
def retention_check(
    msisdn: str, ctx: UnitOfWork, claims: TokenClaims = Depends(require_line)
) -> RetentionCheckOut:
    return service.check(ctx, msisdn)


@router.post(
    "/{msisdn}/retention",
    status_code=201,
    response_model=RetainedOut,
    summary="Apply for retention: the line is retained at once, the fee from next month",
    responses=error_responses(*_AUTH, "RETENTION_BLOCKED", "IDEMPOTENCY_KEY_REUSED"),
)
def apply_retention(
    msisdn: str,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    scope = f"retention:{msisdn}"
    return run_idempotent(
        ctx, request, scope, {}, lambda: (201, service.apply(ctx, msisdn, channel_of(claims)))
    )


@router.post(
    "/{msisdn}/reactivation",
    response_model=ReactivatedOut,
    summary="Reactivate (复机) a retained or arrears-suspended line once nothing is owed",
    description=(
        "`409 ARREARS` with `amount_fen` (and a payment remedy) while the line owes; `409 "
        "NOT_SUSPENDED` for a line that is neither retained nor arrears-suspended."
    ),
    responses=error_responses(*_AUTH, "ARREARS", "NOT_SUSPENDED", "IDEMPOTENCY_KEY_REUSED"),
)
def reactivation(
    msisdn: str,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    scope = f"reactivation:{msisdn}"
    return run_idempotent(
        ctx, request, scope, {}, lambda: (200, service.reactivate(ctx, msisdn, channel_of(claims)))
    )
