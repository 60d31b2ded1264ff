"""FastAPI dependencies that turn a bearer token into the one line it may act on."""

from __future__ import annotations

from fastapi import Depends, Request

from xiaohu import principals as tokens
from xiaohu.http import UnitOfWork, bearer_token, refuse_token
from xiaohu.kit.errors import DomainError
from xiaohu.principals import TokenClaims


def bearer_claims(request: Request, ctx: UnitOfWork) -> TokenClaims:
    """A line token's claims (the subscriber's or a hotline session's); the unit of work's
    actor becomes whoever the token names, so the audit log does too. A staff token is the
    wrong kind here: 403."""
    token = bearer_token(request)
    claims = tokens.verify(ctx.settings.key, token, ctx.now())
    if claims is None:
        refuse_token(
            ctx,
            token,
            tokens.verify_staff,
            "a staff token cannot act as a subscriber: use the staff routes",
        )
    ctx.actor = claims.actor
    return claims


def require_line(msisdn: str, claims: TokenClaims = Depends(bearer_claims)) -> TokenClaims:
    """For routes with `{msisdn}` in the path: the token must be that line's."""
    if claims.msisdn != msisdn:
        raise DomainError("FORBIDDEN", "this token acts on another line")
    return claims


def require_same_line(claims: TokenClaims, msisdn: str) -> None:
    """For routes whose msisdn is in the body."""
    if claims.msisdn != msisdn:
        raise DomainError("FORBIDDEN", "this token acts on another line")
