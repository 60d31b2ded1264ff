"""Sandbox: a platform and its key in one call, for trying the recycled-number check."""

from __future__ import annotations

from fastapi import APIRouter

from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import error_responses
from xiaohu.platforms import service
from xiaohu.platforms.schemas import SandboxPlatformIn, SandboxPlatformOut

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


@router.post(
    "/platforms",
    status_code=201,
    response_model=SandboxPlatformOut,
    summary="Register a platform and get its API key (shown once)",
    description=(
        "As `xiaohu platforms add NAME`. `requests_per_minute` (optional, sandbox only) sets "
        "the platform's own rate instead of the policy's."
    ),
    responses=error_responses("PLATFORM_EXISTS", "VALIDATION_FAILED"),
)
def add_platform(body: SandboxPlatformIn, ctx: UnitOfWork) -> SandboxPlatformOut:
    platform, key = service.add(ctx, body.name, requests_per_minute=body.requests_per_minute)
    return SandboxPlatformOut(api_key=key, name=platform.name, key_hint=platform.key_hint)
