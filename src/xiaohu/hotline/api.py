"""The hotline's route: an agent opens a session for a caller (API.md Part 2 "Hotline")."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from xiaohu.hotline import service
from xiaohu.hotline.schemas import HotlineSessionIn, HotlineSessionOut
from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import error_responses
from xiaohu.principals import StaffClaims
from xiaohu.staff.deps import require_role
from xiaohu.staff.models import Role

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"])


@router.post(
    "/sessions",
    response_model=HotlineSessionOut,
    summary="Open a session for a caller who read back the code sent to the line",
    description=(
        "For a `hotline_agent` staff token, on a line of the agent's province. The caller "
        "first gets a code by SMS (`POST /api/v1/auth/otp`) and reads it back with the service "
        "password; the factors count against the same lock-out as the subscriber's sign-in. "
        "The answer is a line token (`channel: hotline`) for the online endpoints: every event "
        "written with it names the agent."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "VALIDATION_FAILED",
        "VERIFICATION_FAILED",
        "OTP_NOT_REQUESTED",
        "VERIFICATION_LOCKED",
    ),
)
def open_session(
    body: HotlineSessionIn,
    ctx: UnitOfWork,
    agent: StaffClaims = Depends(require_role(Role.HOTLINE_AGENT)),
) -> HotlineSessionOut:
    # A wrong code's count and lock-out are committed with the refusal (keep_writes).
    return service.open_session(ctx, agent, body)
