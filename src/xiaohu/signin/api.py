"""Subscriber sign-in: ask for a one-time code, then trade code + service password for a token."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request

from xiaohu.http import UnitOfWork, runtime_of
from xiaohu.identity import service
from xiaohu.identity.schemas import OtpIn, OtpOut, TokenIn, TokenOut
from xiaohu.kit.errors import error_responses
from xiaohu.runtime import SignInLimits
from xiaohu.signin.reference import sign_in_by_reference

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limits(request: Request) -> SignInLimits | None:
    return runtime_of(request).client_limits


@router.post(
    "/otp",
    status_code=202,
    response_model=OtpOut,
    summary="Send a one-time code to the line by SMS",
    description=(
        "A cancelled number receives no SMS: `409 LINE_CANCELLED`, and it signs in with its "
        "reference instead (see the token). Per client: `429 RATE_LIMITED` with `Retry-After`."
    ),
    responses=error_responses(
        "VALIDATION_FAILED",
        "LINE_NOT_FOUND",
        "LINE_CANCELLED",
        "OTP_THROTTLED",
        "VERIFICATION_LOCKED",
        "RATE_LIMITED",
    ),
)
def request_otp(body: OtpIn, request: Request, ctx: UnitOfWork) -> OtpOut:
    limits = _limits(request)
    if limits is not None:
        limits.hit_otp(_client(request))
    return OtpOut(expires_in=service.request_otp(ctx, body.msisdn))


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with the SMS code (or a cancelled number's reference) and the password",
    description=(
        "`{msisdn, otp, service_password}`, or for a cancelled number (which receives no SMS) "
        "`{msisdn, reference, service_password, id_number}`. The token acts on this line only. "
        "Without a live code: `401 OTP_NOT_REQUESTED`, not counted. Five failures against a "
        "live code (or a reference) lock sign-in for 30 minutes. Per client: `429 "
        "RATE_LIMITED` with `Retry-After`."
    ),
    responses=error_responses(
        "VALIDATION_FAILED",
        "VERIFICATION_FAILED",
        "OTP_NOT_REQUESTED",
        "VERIFICATION_LOCKED",
        "RATE_LIMITED",
    ),
)
def sign_in(body: TokenIn, request: Request, ctx: UnitOfWork) -> TokenOut:
    limits = _limits(request)
    if limits is not None:
        limits.hit_token(_client(request))
    # A refusal's failure count and lock-out are committed by the unit of work (keep_writes).
    if body.otp is not None:
        issued = service.sign_in(ctx, body.msisdn, body.otp, body.service_password)
    else:  # the schema admits no other shape: otp, or reference with id_number
        issued = sign_in_by_reference(
            ctx,
            body.msisdn,
            cast(str, body.reference),
            body.service_password,
            cast(str, body.id_number),
        )
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)
