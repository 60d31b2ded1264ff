"""FastAPI dependencies for staff routes: a staff token of the right role, scoped to its
province (and a clerk to its store). The unit of work's actor becomes `<role>:<login>`, so
every audit event the request writes names the member of staff."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from xiaohu import principals
from xiaohu.http import UnitOfWork, bearer_token, refuse_token
from xiaohu.identity.deps import bearer_claims, require_same_line
from xiaohu.kit.errors import DomainError
from xiaohu.lines.service import get_line
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.models import Role


def staff_claims(request: Request, ctx: UnitOfWork) -> StaffClaims:
    """A staff token's claims; 401 with none or a bad one, 403 for a line token."""
    token = bearer_token(request)
    claims = principals.verify_staff(ctx.settings.key, token, ctx.now())
    if claims is None:
        refuse_token(ctx, token, principals.verify, "a line token cannot use the staff routes")
    ctx.actor = claims.actor
    return claims


def require_role(*roles: Role) -> Callable[[Request, UnitOfWork], StaffClaims]:
    """A dependency: a staff token of one of these roles, else 403 FORBIDDEN."""
    allowed = tuple(str(r) for r in roles)

    def dependency(request: Request, ctx: UnitOfWork) -> StaffClaims:
        claims = staff_claims(request, ctx)
        if claims.role not in allowed:
            raise DomainError(
                "FORBIDDEN", f"this route is for {' or '.join(allowed)}, not a {claims.role}"
            )
        return claims

    return dependency


def require_province(claims: StaffClaims, province_code: str) -> None:
    """Hotline agents and back offices act on their own province's lines only (clerks serve
    any province's lines at their store)."""
    if claims.province_code != province_code:
        raise DomainError(
            "FORBIDDEN",
            f"a {claims.role} of province {claims.province_code} cannot act on a line of "
            f"province {province_code}",
        )


def reading_clerk(request: Request, ctx: Context) -> StaffClaims | None:
    """The clerk behind the bearer token, on a route a line's own token may read too (a
    cancellation, its receipt, a line's audit trail, refusals, invoices): any clerk, since a
    store of any province serves any line and the clerk who took a payment or a cancellation
    reads it back. None when the request holds no genuine staff token (then it is the line's
    own to check); another staff role is 403. The unit of work's actor becomes the clerk."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    staff = principals.verify_staff(ctx.settings.key, token.strip(), ctx.now())
    if staff is None:
        return None
    if staff.role != Role.CLERK:
        raise DomainError("FORBIDDEN", f"this is for the line or a clerk, not a {staff.role}")
    ctx.actor = staff.actor
    return staff


def line_or_clerk(msisdn: str, request: Request, ctx: UnitOfWork) -> None:
    """For `{msisdn}` routes a clerk may read too (`reading_clerk`), else the line's own
    token (the subscriber's or a hotline session's)."""
    if reading_clerk(request, ctx) is None:
        require_same_line(bearer_claims(request, ctx), msisdn)
    else:
        get_line(ctx.session, msisdn)  # 404 for a number that is not one
