"""Staff sign-in: a login and password for a staff token (a shift long, the province's policy)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from xiaohu.http import UnitOfWork, runtime_of
from xiaohu.kit.errors import error_responses
from xiaohu.staff import service
from xiaohu.staff.schemas import StaffTokenIn, StaffTokenOut

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


@router.post(
    "/token",
    response_model=StaffTokenOut,
    summary="Sign a member of staff in",
    description=(
        "A wrong password and an unknown login get the same `401 VERIFICATION_FAILED`. After "
        "`sign_in_max_failures` failures (policy, default 5) sign-in is locked for "
        "`sign_in_lock_minutes` (default 30): `429 VERIFICATION_LOCKED` with `Retry-After`. "
        "Per client: `429 RATE_LIMITED`."
    ),
    responses=error_responses(
        "VALIDATION_FAILED", "VERIFICATION_FAILED", "VERIFICATION_LOCKED", "RATE_LIMITED"
    ),
)
def staff_token(body: StaffTokenIn, request: Request, ctx: UnitOfWork) -> StaffTokenOut:
    limits = runtime_of(request).client_limits
    if limits is not None:
        limits.hit_token(request.client.host if request.client else "unknown")
    # A refusal's failure count and lock-out are committed by the unit of work (keep_writes).
    return service.sign_in(ctx, body.login, body.password)
