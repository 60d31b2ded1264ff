"""FastAPI dependencies that turn a bearer token into the one line it may act on."""

from __future__ import annotations

from fastapi import Depends, Request

from xiaohu.http import UnitOfWork
from xiaohu.identity import tokens
from xiaohu.identity.tokens import TokenClaims
from xiaohu.kit.errors import DomainError


def bearer_claims(request: Request, ctx: UnitOfWork) -> TokenClaims:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise DomainError(
            "UNAUTHENTICATED",
            "an Authorization: Bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    claims = tokens.verify(ctx.settings.key, token.strip(), ctx.now())
    if claims is None:
        raise DomainError(
            "UNAUTHENTICATED",
            "the token is invalid or has expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
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
