"""Subscriber sign-in: ask for a one-time code, then trade code + service password for a token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends

from xiaohu.identity import service
from xiaohu.identity.schemas import OtpIn, OtpOut, TokenIn, TokenOut
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.web import unit_of_work
from xiaohu.runtime import Context

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


@contextmanager
def keeping_refusals(ctx: Context) -> Iterator[None]:
    """Commit the failure count, lock-out and audit events of a refused sign-in, then let the
    refusal through.

    Why here: the unit of work rolls back on every exception, which would erase exactly the
    writes that make brute force impossible. A second transaction (`runtime.sessions()`) would
    not do: on SQLite the request already holds the write lock (BEGIN IMMEDIATE) and a second
    writer would wait on it; on PostgreSQL it would wait on our own row lock. Committing the
    request's own session keeps one transaction and one lock. Only refusals listed in
    `service.KEEP_WRITES_ON` are committed; any other error still rolls everything back.
    """
    try:
        yield
    except DomainError as err:
        if err.code in service.KEEP_WRITES_ON:
            ctx.session.commit()
        raise


@router.post(
    "/otp",
    status_code=202,
    response_model=OtpOut,
    summary="Send a one-time code to the line by SMS",
    responses=error_responses(
        "VALIDATION_FAILED", "LINE_NOT_FOUND", "OTP_THROTTLED", "VERIFICATION_LOCKED"
    ),
)
def request_otp(body: OtpIn, ctx: Context = Depends(unit_of_work)) -> OtpOut:
    return OtpOut(expires_in=service.request_otp(ctx, body.msisdn))


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with the SMS code and the service password",
    description="The token acts on this line only. Five failures lock sign-in for 30 minutes.",
    responses=error_responses("VALIDATION_FAILED", "VERIFICATION_FAILED", "VERIFICATION_LOCKED"),
)
def sign_in(body: TokenIn, ctx: Context = Depends(unit_of_work)) -> TokenOut:
    with keeping_refusals(ctx):
        issued = service.sign_in(ctx, body.msisdn, body.otp, body.service_password)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)
