"""The page session: the subscriber's bearer token in a cookie.

The pages use the same stateless, line-bound token as the API, so there is no server-side
session table: the cookie is HttpOnly (scripts cannot read it), SameSite=Lax (not sent on
cross-site POSTs), Secure on HTTPS, and it expires with the token.
"""

from __future__ import annotations

from fastapi import Request, Response

from xiaohu import principals as tokens
from xiaohu.principals import TokenClaims
from xiaohu.runtime import Context

TOKEN_COOKIE = "xh_session"  # noqa: S105 (a cookie name)
LANG_COOKIE = "xh_lang"


def claims_of(request: Request, ctx: Context) -> TokenClaims | None:
    """The claims of the page cookie, if it holds a genuine unexpired token."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    return tokens.verify(ctx.settings.key, token, ctx.now())


def bearer_or_cookie(request: Request, ctx: Context) -> TokenClaims | None:
    """For routes both the API and the pages use (the receipt): a bearer header, else the
    cookie."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return tokens.verify(ctx.settings.key, token.strip(), ctx.now())
    return claims_of(request, ctx)


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int, path: str
) -> None:
    """A session cookie as every page sets them: HttpOnly, SameSite=Lax, Secure on HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=path,
    )


def sign_in(request: Request, response: Response, token: str, expires_in: int) -> None:
    set_cookie(request, response, TOKEN_COOKIE, token, expires_in, "/")


def sign_out(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path="/")
