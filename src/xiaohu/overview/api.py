"""The subscriber's line: what it is, what it holds, and the evidence trail about it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Query

from xiaohu.http import UnitOfWork
from xiaohu.identity.deps import bearer_claims, require_line
from xiaohu.kit.errors import error_responses
from xiaohu.overview import lookup, service
from xiaohu.overview.lookup_schemas import IdLookupIn, IdLookupOut
from xiaohu.overview.schemas import LineAuditOut, LineView
from xiaohu.principals import TokenClaims
from xiaohu.staff.deps import line_or_clerk

router = APIRouter(prefix="/api/v1/lines", tags=["lines"])

_AUTH_ERRORS = ("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND")


@router.get(
    "/{msisdn}",
    response_model=LineView,
    summary="The line: status, home, plan, balances, arrears, owner (masked)",
    responses=error_responses(*_AUTH_ERRORS),
)
def get_line(
    ctx: UnitOfWork,
    msisdn: str,
    claims: TokenClaims = Depends(require_line),
) -> LineView:
    return service.line_view(ctx, msisdn)


@router.get(
    "/{msisdn}/audit",
    response_model=LineAuditOut,
    summary="Every audited event about this line, oldest first",
    description=(
        "Sign-ins, refusals with their codes, state changes: evidence for a complaint. The "
        "line's token, or any clerk's token (any other staff role: 403). Each event names its "
        "actor (`subscriber`, `clerk:<login>`, `hotline_agent:<login>`, …), also split into "
        "`actor_kind` and `staff_login`."
    ),
    responses=error_responses(*_AUTH_ERRORS),
    dependencies=[Depends(line_or_clerk)],
)
def get_line_audit(
    ctx: UnitOfWork,
    msisdn: str,
    limit: int = Query(500, ge=1, le=5000),
) -> LineAuditOut:
    return LineAuditOut(msisdn=msisdn, events=service.line_audit(ctx, msisdn, limit))


# --- 一证通查 (a router without the /lines prefix) -----------------------------------------

lookup_router = APIRouter(tags=["lines"])


@lookup_router.post(
    "/api/v1/id-lookup",
    response_model=IdLookupOut,
    summary="Every line registered to the owner's ID, in every province (一证通查), masked",
    description=(
        "With the line's token: the owner's exact name and full ID number (checked as the "
        "cancellation's real-name step, with its attempt limit). Cancelled lines are left "
        "out; numbers are masked (`138****0001`). A mismatch: `403 REAL_NAME_MISMATCH`. "
        "A national deployment asks every node: one that does not answer makes the lookup "
        "`503 NODE_UNAVAILABLE` (naming `provinces_unavailable`), never a list that looks "
        "complete and is not."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "REAL_NAME_MISMATCH",
        "REAL_NAME_LOCKED",
        "VALIDATION_FAILED",
        "NODE_UNAVAILABLE",
    ),
)
def id_lookup(
    body: IdLookupIn, ctx: UnitOfWork, claims: TokenClaims = Depends(bearer_claims)
) -> IdLookupOut:
    return lookup.id_lookup(ctx, claims, body)


def mount(app: FastAPI) -> None:
    """Called by the app factory after `router`: the lookup's path is outside /lines."""
    app.include_router(lookup_router)
