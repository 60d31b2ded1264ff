"""The recycled-number check over HTTP (API.md Part 2, "For internet platforms"): a
platform's `X-Api-Key`, a batch of up to 1,000 numbers, one bit each."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request

from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import error_responses
from xiaohu.platforms import service
from xiaohu.platforms.limits import PlatformLimits
from xiaohu.platforms.schemas import RecycledCheckIn, RecycledCheckOut

router = APIRouter(prefix="/api/v1/platform", tags=["platforms"])


def limits_of(request: Request) -> PlatformLimits:
    """This app's (this process's) per-platform counters, made on first use."""
    state = request.app.state
    found: PlatformLimits | None = getattr(state, "platform_limits", None)
    if found is None:
        found = PlatformLimits(state.runtime.settings.rate_limit_storage)
        state.platform_limits = found
    return found


@router.post(
    "/recycled-checks",
    response_model=RecycledCheckOut,
    summary="Did these numbers change hands since the accounts were bound? (二次号)",
    description=(
        "For each `{msisdn, bound_since}` (1 to 1,000; more: `TOO_MANY_QUERIES`), in query "
        "order, `changed`: the number was cancelled on or after `bound_since` (a Shanghai "
        "calendar day) and the cancellation stands (not reversed, not reclaimed by its owner "
        "during quarantine). A number never issued here is unchanged. No personal data. "
        "A missing, wrong or revoked key: 401. More than the platform's rate (default 100 "
        "requests a minute): 429 `RATE_LIMITED` with `retry_after` and `Retry-After`."
    ),
    responses=error_responses(
        "UNAUTHENTICATED", "RATE_LIMITED", "TOO_MANY_QUERIES", "VALIDATION_FAILED"
    ),
)
def recycled_checks(
    body: RecycledCheckIn,
    request: Request,
    ctx: UnitOfWork,
    x_api_key: str | None = Header(None, alias="X-Api-Key", description="the platform's key"),
) -> RecycledCheckOut:
    platform = service.authenticate(ctx, x_api_key)
    limits_of(request).hit(platform.id, service.rate_of(ctx, platform))
    return RecycledCheckOut.model_validate(service.check(ctx, platform, body.queries))
