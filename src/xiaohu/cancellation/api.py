"""The cancellation check, the cancellation, reading it and reversing it (API.md)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from xiaohu.cancellation import service
from xiaohu.cancellation.schemas import CancellationOut, CancellationRequest, CheckOut
from xiaohu.http import UnitOfWork, run_idempotent, unit_of_work
from xiaohu.identity.deps import bearer_claims, require_line, require_same_line
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.principals import TokenClaims
from xiaohu.staff.deps import reading_clerk

router = APIRouter(tags=["cancellation"])
_unit_of_work = contextmanager(unit_of_work)


def _own(claims: TokenClaims, c_line_id: int) -> None:
    if claims.line_id != c_line_id:
        raise DomainError("FORBIDDEN", "this token acts on another line")


@router.get(
    "/api/v1/lines/{msisdn}/cancellation-check",
    response_model=CheckOut,
    summary="Every blocker at once, the warnings and a priced quote",
    description=(
        "Lists every reason the line cannot be cancelled now, each with a remedy, the "
        "warnings to acknowledge, and a quote (valid for the policy's minutes) whose "
        "`quote_id` the cancellation must name. Reads only: the quote is a signed token, "
        "so checking changes nothing."
    ),
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND"),
)
def cancellation_check(msisdn: str, request: Request) -> JSONResponse:
    # The hot path, so one hop through the thread pool instead of three: the same read-only
    # unit of work as `Depends(unit_of_work)`, entered here rather than as a dependency (whose
    # set-up and tear-down each take a hop), the token verified inline, and the service's
    # document sent as it is (the shape of CheckOut, which the tests hold it to) without a
    # second validation by the response model.
    with _unit_of_work(request) as ctx:
        claims = require_line(msisdn, bearer_claims(request, ctx))
        return JSONResponse(service.check_json(ctx, msisdn, channel=claims.channel))


@router.post(
    "/api/v1/cancellations",
    status_code=201,
    response_model=CancellationOut,
    summary="Cancel the line at the quoted amounts; refund at once",
    description=(
        "Needs the quote of a cancellation check, the owner's real name and ID number, a "
        "refund route and every warning of the quote acknowledged. Accepts `Idempotency-Key`."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "LINE_NOT_FOUND",
        "REAL_NAME_MISMATCH",
        "CANCELLATION_BLOCKED",
        "ALREADY_CANCELLED",
        "QUOTE_NOT_FOUND",
        "QUOTE_EXPIRED",
        "WARNINGS_NOT_ACKNOWLEDGED",
        "REFUND_ROUTE_INVALID",
        "IDEMPOTENCY_KEY_REUSED",
        "VALIDATION_FAILED",
    ),
)
def create_cancellation(body: CancellationRequest, request: Request) -> JSONResponse:
    # The unit of work entered inline, as for the check: one thread-pool hop, not four.
    with _unit_of_work(request) as ctx:
        claims = bearer_claims(request, ctx)
        require_same_line(claims, body.msisdn)

        def work() -> tuple[int, Any]:
            # A hotline token: the agent who heard the caller is the cancellation's staff.
            out = service.cancel(
                ctx, body.msisdn, body, channel=claims.channel, staff_login=claims.agent_login
            )
            return 201, out.model_dump(mode="json")

        # Blocked: the refusal is logged and kept (keep_writes); the key is released.
        return run_idempotent(
            ctx, request, f"cancellation:{body.msisdn}", body.model_dump(mode="json"), work
        )


@router.get(
    "/api/v1/cancellations/{cancellation_id}",
    response_model=CancellationOut,
    response_model_exclude_none=False,
    summary="A cancellation, with the settlement once the cycle closed",
    description="The line's token, or any clerk's token.",
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "CANCELLATION_NOT_FOUND"),
)
def get_cancellation(cancellation_id: str, request: Request, ctx: UnitOfWork) -> CancellationOut:
    if reading_clerk(request, ctx) is not None:
        c = service.find(ctx, cancellation_id)
    else:
        claims = bearer_claims(request, ctx)
        c = service.find(ctx, cancellation_id)
        _own(claims, c.line_id)
    return service.to_out(c, service.refund_status(ctx, c))


# The reversal (`POST /api/v1/cancellations/{id}/reversal`) is served by `counter.api`: it
# takes a line token or a clerk's with the owner's documents, which this area cannot see.
