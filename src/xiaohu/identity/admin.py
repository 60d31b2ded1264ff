"""The operator credential for the admin routes, until staff sign-in exists.

Production: `Authorization: Bearer <XIAOHU_ADMIN_TOKEN>` (401 without one, 403 with another),
compared in constant time. Sandbox: open, as API.md says (a test system's operations).
"""

from __future__ import annotations

import hmac

from fastapi import Request

from xiaohu.kit.errors import DomainError
from xiaohu.kit.web import runtime_of


def require_admin(request: Request) -> None:
    settings = runtime_of(request).settings
    if settings.sandbox:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(
            "UNAUTHENTICATED",
            "the admin routes need Authorization: Bearer <the operator's admin token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    # Never equal when no token is configured (production refuses to start without one).
    if not expected or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise DomainError("FORBIDDEN", "this token is not the admin token")
