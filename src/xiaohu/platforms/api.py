"""The recycled-number check over HTTP (API.md Part 2, "For internet platforms"): a
platform's `X-Api-Key`, a batch of up to 1,000 numbers, one bit each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import error_responses
from xiaohu.platforms import service
from xiaohu.platforms.limits import PlatformLimits
from xiaohu.platforms.rules import MAX_QUERIES
from xiaohu.platforms.schemas import RecycledCheckOut

router = APIRouter(prefix="/api/v1/platform", tags=["platforms"])


def limits_of(request: Request) -> PlatformLimits:
    """This app's (this process's) per-platform counters, made on first use."""
    state = request.app.state
    found: PlatformLimits | None = getattr(state, "platform_limits", None)
    if found is None:
        found = PlatformLimits(state.runtime.settings.rate_limit_storage)
        state.platform_limits = found
    return found


async def raw_body(request: Request) -> bytes:
    """The body as it came: the route reads it itself, after the key (`service.parse_batch`)."""
    return await request.body()


# The documented body: the route reads the JSON itself (`service.parse_batch`).
_QUERY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["msisdn", "bound_since"],
    "properties": {
        "msisdn": {"type": "string", "pattern": "^1[0-9]{10}$", "examples": ["13800138000"]},
        "bound_since": {
            "type": "string",
            "format": "date",
            "examples": ["2024-03-01"],
            "description": "YYYY-MM-DD (Asia/Shanghai): the day the account was bound",
        },
    },
}
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "title": "RecycledCheckIn",
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["queries"],
                    "properties": {
                        "queries": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_QUERIES,
                            "items": _QUERY,
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/recycled-checks",
    response_model=RecycledCheckOut,
    summary="Did these numbers change hands since the accounts were bound? (二次号)",
    description=(
        "For each `{msisdn, bound_since}` (1 to 1,000; more: `TOO_MANY_QUERIES`), in query "
        "order, `changed`: the number was cancelled on or after `bound_since` (a Shanghai "
        "calendar day) and the cancellation stands (not reversed, not reclaimed by its owner "
        "during quarantine). A number never issued here is unchanged. No personal data. "
        "A malformed query: `422 VALIDATION_FAILED` naming it (`queries.3.msisdn`). "
        "A missing, wrong or revoked key: 401. More than the platform's rate (default 100 "
        "requests a minute): 429 `RATE_LIMITED` with `retry_after` and `Retry-After`. "
        "A national deployment asks the node of each number's home province: one that does "
        "not answer makes the batch `503 NODE_UNAVAILABLE` (naming `provinces_unavailable`), "
        "never an `unchanged` that was not looked up."
    ),
    openapi_extra=_BODY,
    responses=error_responses(
        "UNAUTHENTICATED",
        "RATE_LIMITED",
        "TOO_MANY_QUERIES",
        "VALIDATION_FAILED",
        "MALFORMED_JSON",
        "NODE_UNAVAILABLE",
    ),
)
def recycled_checks(
    request: Request,
    ctx: UnitOfWork,
    raw: bytes = Depends(raw_body),
    x_api_key: str | None = Header(
        None, alias="X-Api-Key", description="the platform's key", include_in_schema=False
    ),
) -> JSONResponse:
    platform = service.authenticate(ctx, x_api_key)
    limits_of(request).hit(platform.id, service.rate_of(ctx, platform))
    # Plain data straight out (the shape is `RecycledCheckOut`): validating 1,000 results
    # again as models would cost more than the query.
    return JSONResponse(service.check(ctx, platform, raw))
