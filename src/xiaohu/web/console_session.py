"""The clerk console's cookies: the staff token, and the visit at the counter.

The staff cookie holds the staff bearer token the sign-in issued (no server-side session
table, as for the subscriber pages), under its own name and only for `/console`, so a clerk's
and a subscriber's sessions never mix in one browser. HttpOnly, SameSite=Lax, Secure on HTTPS,
expiring with the token.

The visit cookie remembers, between the screens of one customer's visit, the number and the
documents the clerk entered. It holds ID numbers, so it is sealed with AES-GCM under a key of
its own (nobody can read or forge it), bound to the clerk who entered it, and short-lived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from xiaohu import principals
from xiaohu.kit.crypto import seal, unseal
from xiaohu.principals import StaffClaims
from xiaohu.routing import VISIT_PURPOSE  # routing opens the visit cookie too
from xiaohu.runtime import Context
from xiaohu.web import session

PATH = "/console"
STAFF_COOKIE = "xh_staff"
VISIT_COOKIE = "xh_visit"
VISIT_MINUTES = 30  # one customer at the counter; a forgotten visit does not linger


def staff_of(request: Request, ctx: Context) -> StaffClaims | None:
    """The claims of the staff cookie, if it holds a genuine unexpired staff token."""
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return None
    return principals.verify_staff(ctx.settings.key, token, ctx.now())


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    session.set_cookie(request, response, name, value, max_age, PATH)


def sign_in(request: Request, response: Response, token: str, expires_in: int) -> None:
    _cookie(request, response, STAFF_COOKIE, token, expires_in)


def sign_out(response: Response) -> None:
    response.delete_cookie(STAFF_COOKIE, path=PATH)
    response.delete_cookie(VISIT_COOKIE, path=PATH)


@dataclass(frozen=True)
class Visit:
    """One customer at the counter: the number and the documents seen (as the API's
    `documents`)."""

    msisdn: str
    documents: dict[str, Any]


def start_visit(
    request: Request, response: Response, ctx: Context, staff: StaffClaims, visit: Visit
) -> None:
    expires = int(ctx.now().timestamp()) + VISIT_MINUTES * 60
    raw = json.dumps(
        {"m": visit.msisdn, "d": visit.documents, "e": expires}, ensure_ascii=False
    ).encode()
    value = seal(ctx.settings.key, VISIT_PURPOSE, raw, staff.login.encode())
    _cookie(request, response, VISIT_COOKIE, value, VISIT_MINUTES * 60)


def visit_of(request: Request, ctx: Context, staff: StaffClaims) -> Visit | None:
    """The visit this clerk started, unexpired; None for anything else."""
    value = request.cookies.get(VISIT_COOKIE)
    if not value:
        return None
    raw = unseal(ctx.settings.key, VISIT_PURPOSE, value, staff.login.encode())
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
        if ctx.now().timestamp() >= int(payload["e"]):
            return None
        return Visit(msisdn=str(payload["m"]), documents=dict(payload["d"]))
    except (ValueError, KeyError, TypeError):
        return None


def end_visit(response: Response) -> None:
    response.delete_cookie(VISIT_COOKIE, path=PATH)
