"""CSRF protection for the page forms: a signed double-submit token.

Every visitor gets a random, HttpOnly browser-session id cookie (`xh_sid`). Each form carries
`csrf_token` = HMAC(sid) under a key derived from the master secret. A cross-site page can make
the browser send the cookie but can neither read it nor compute the MAC, so it cannot forge the
field. Nothing is stored on the server; rotating the sid (at sign-in and sign-out) invalidates
every token issued before.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from xiaohu.kit.crypto import mac

SID_COOKIE = "xh_sid"
FIELD = "csrf_token"
_PURPOSE = "page-csrf"


def new_sid() -> str:
    return secrets.token_urlsafe(24)


def token_for(master: bytes, sid: str) -> str:
    return mac(master, _PURPOSE, sid)


def is_valid(master: bytes, sid: str | None, submitted: str | None) -> bool:
    """True when the submitted field is the MAC of the sid cookie the browser sent."""
    if not sid or not submitted:
        return False
    return hmac.compare_digest(token_for(master, sid), submitted)


def set_sid(request: Request, response: Response, sid: str) -> None:
    response.set_cookie(
        SID_COOKIE,
        sid,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
