"""Subscriber sign-in: ask for a one-time code, then trade code + service password for a token."""

from __future__ import annotations

from fastapi import APIRouter

from xiaohu.identity import service
from xiaohu.identity.schemas import OtpIn, OtpOut, TokenIn, TokenOut
from xiaohu.kit.errors import error_responses
from xiaohu.kit.web import UnitOfWork

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


@router.post(
    "/otp",
    status_code=202,
    response_model=OtpOut,
    summary="Send a one-time code to the line by SMS",
    responses=error_responses(
        "VALIDATION_FAILED", "LINE_NOT_FOUND", "OTP_THROTTLED", "VERIFICATION_LOCKED"
    ),
)
def request_otp(body: OtpIn, ctx: UnitOfWork) -> OtpOut:
    return OtpOut(expires_in=service.request_otp(ctx, body.msisdn))


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with the SMS code and the service password",
    description="The token acts on this line only. Five failures lock sign-in for 30 minutes.",
    responses=error_responses("VALIDATION_FAILED", "VERIFICATION_FAILED", "VERIFICATION_LOCKED"),
)
def sign_in(body: TokenIn, ctx: UnitOfWork) -> TokenOut:
    # A refusal's failure count and lock-out are committed by the unit of work (keep_writes).
    issued = service.sign_in(ctx, body.msisdn, body.otp, body.service_password)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)
