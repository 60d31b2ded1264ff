"""The back office's pages (zh/en): sign in, the work-order queue, one order, the decision.

The same server-rendered, script-free style as the self-service pages (`pages.py`), with the
staff's own bearer token in an HttpOnly cookie of its own (`xh_staff`, SameSite=Strict), the
signed double-submit CSRF field on every form, and Post/Redirect/Get after the decision. The
pages call the work-order services the API calls; a refusal is shown on the page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xiaohu import principals
from xiaohu.cancellation.models import Cancellation
from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.models import Role
from xiaohu.web import csrf
from xiaohu.web.pages import attempt, csrf_ok, forbidden_form, form_of, see_other
from xiaohu.web.render import render_for
from xiaohu.workorders import decision, service

router = APIRouter(prefix="/backoffice", include_in_schema=False)
STAFF_COOKIE = "xh_staff"
STATUSES = ("open", "overdue", "closed")
ROLES = (Role.BACKOFFICE, Role.ADMIN)


def staff_of(request: Request, ctx: Context) -> StaffClaims | None:
    """The signed-in back office (or admin), from the cookie."""
    token = request.cookies.get(STAFF_COOKIE)
    claims = principals.verify_staff(ctx.settings.key, token, ctx.now()) if token else None
    if claims is None or claims.role not in ROLES:
        return None
    ctx.actor = claims.actor
    return claims


def page(
    request: Request, ctx: Context, template: str, staff: StaffClaims | None, **values: Any
) -> HTMLResponse:
    return render_for(
        request, ctx.settings, None, f"backoffice/{template}",
        screen=f"backoffice-{template.removesuffix('.html')}", staff=staff, **values,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def sign_in_page(request: Request, ctx: UnitOfWork) -> Response:
    if staff_of(request, ctx) is not None:
        return see_other("/backoffice/orders")
    return page(request, ctx, "sign_in.html", None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.staff import service as staff_service

    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    login = form.get("login", "")
    try:
        issued = attempt(ctx, lambda: staff_service.sign_in(ctx, login, form.get("password", "")))
    except DomainError as err:
        return page(request, ctx, "sign_in.html", None, status=err.status,
                    failure=err.code, form={"login": login})  # fmt: skip
    if issued.role not in ROLES:
        return page(request, ctx, "sign_in.html", None, status=403,
                    failure="FORBIDDEN", form={"login": login})  # fmt: skip
    response = see_other("/backoffice/orders")
    response.set_cookie(
        STAFF_COOKIE, issued.access_token, max_age=issued.expires_in, httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/backoffice",
    )  # fmt: skip
    csrf.set_sid(request, response, csrf.new_sid())
    return response


@router.post("/sign-out")
async def sign_out(request: Request, ctx: UnitOfWork) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    response = see_other("/backoffice")
    response.delete_cookie(STAFF_COOKIE, path="/backoffice")
    return response


@router.get("/orders", response_class=HTMLResponse)
def queue(request: Request, ctx: UnitOfWork, status: str = "open") -> Response:
    staff = staff_of(request, ctx)
    if staff is None:
        return see_other("/backoffice")
    status = status if status in STATUSES else "open"
    orders = service.queue(ctx, staff, status)
    return page(request, ctx, "queue.html", staff, orders=orders, tab=status,
                statuses=STATUSES)  # fmt: skip


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, ctx: UnitOfWork, order_id: str, done: str = "") -> Response:
    staff = staff_of(request, ctx)
    if staff is None:
        return see_other("/backoffice")
    return show(request, ctx, staff, order_id, done=done)


def show(
    request: Request, ctx: Context, staff: StaffClaims, order_id: str, *, status: int = 200,
    **values: Any,
) -> Response:  # fmt: skip
    try:
        order = service.find(ctx, staff, order_id)
    except DomainError as err:
        return page(request, ctx, "error.html", staff, status=err.status, code=err.code)
    line = ctx.session.get(Line, order.line_id)
    request_row = ctx.session.get(Cancellation, order.cancellation_id)
    may_decide = (
        staff.role == Role.BACKOFFICE
        and staff.province_code == order.home_province
        and order.status == "open"
    )
    return page(
        request, ctx, "order.html", staff, status=status, order=service.as_json(order, ctx.now()),
        line=line, pending=request_row, seen=order.request.get("documents") or {},
        may_decide=may_decide, **values,
    )  # fmt: skip


@router.post("/orders/{order_id}/decision", response_class=HTMLResponse)
async def decide(request: Request, ctx: UnitOfWork, order_id: str) -> Response:
    staff = staff_of(request, ctx)
    if staff is None:
        return see_other("/backoffice")
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    choice, reason = form.get("decision", ""), form.get("reason", "")
    if choice not in ("approve", "reject") or not reason or len(reason) > 500:
        return show(request, ctx, staff, order_id, status=422, error="reason",
                    reason=reason)  # fmt: skip
    try:
        attempt(ctx, lambda: decision.decide(ctx, staff, order_id, choice, reason))
    except DomainError as err:
        return show(request, ctx, staff, order_id, status=err.status, error=err.code,
                    reason=reason)  # fmt: skip
    return RedirectResponse(f"/backoffice/orders/{order_id}?done={choice}", status_code=303)
