"""The clerk console: closing a number at a store counter, in Chinese or English.

Server-rendered like the subscriber pages (plain forms, Post/Redirect/Get, a CSRF token on
every form), for a clerk at a counter PC: sign in → find the line → the documents seen (the
owner in person, or a proxy with the agent's document and the authorization letter) → the
store check (every blocker at once, the warnings, the quote), taking a payment (cash or card)
→ the cancellation (cash back from the drawer, or another refund route) → the receipt; and the
drawer report at the end of the day. Every call goes to the same services as the store API,
with the unit of work's actor set to the clerk, so every audit event names them.

Only clerks sign in here: they are the ones with a store, and a drawer. The session is the
staff token in its own cookie (`web.console_session`); the visit (number and documents) is
sealed in a second one between screens.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xiaohu.http import UnitOfWork
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import plain_yuan
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.web import console_session as cs
from xiaohu.web import console_views as cv
from xiaohu.web.i18n import negotiate
from xiaohu.web.pages import attempt, csrf_ok, form_of, new_session, see_other
from xiaohu.web.render import render_for

router = APIRouter(prefix="/console", include_in_schema=False)
CLERK = "clerk"


def page(
    request: Request,
    ctx: Context,
    template: str,
    *,
    screen: str,
    status: int = 200,
    staff: StaffClaims | None = None,
    **values: Any,
) -> Response:
    return render_for(
        request, ctx.settings, None, f"console/{template}", status=status, screen=screen,
        staff=staff, **values,
    )  # fmt: skip


def clerk(request: Request, ctx: Context) -> StaffClaims | None:
    """The signed-in clerk, and the unit of work acting as them (`clerk:<login>`)."""
    staff = cs.staff_of(request, ctx)
    if staff is None or staff.role != CLERK or not staff.store_code:
        return None
    ctx.actor = staff.actor
    return staff


def to_sign_in() -> RedirectResponse:
    return see_other("/console?expired=1")


async def posted(request: Request, ctx: Context) -> dict[str, str] | Response:
    """A POSTed form whose CSRF token holds; else the refusal page to return."""
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return refused(request, ctx)
    return form


async def clerk_posted(
    request: Request, ctx: Context
) -> tuple[dict[str, str], StaffClaims] | Response:
    """A POSTed form (CSRF checked first) from a signed-in clerk; else the response to return."""
    form = await posted(request, ctx)
    if isinstance(form, Response):
        return form
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    return form, staff


async def visit_posted(
    request: Request, ctx: Context
) -> tuple[dict[str, str], StaffClaims, cs.Visit] | Response:
    """As `clerk_posted`, during a visit: with no visit under way, back to finding a line."""
    got = await clerk_posted(request, ctx)
    if isinstance(got, Response):
        return got
    form, staff = got
    visit = cs.visit_of(request, ctx, staff)
    if visit is None:
        return see_other("/console/find")
    return form, staff, visit


def refused(request: Request, ctx: Context) -> Response:
    return page(request, ctx, "error.html", status=403, screen="csrf", error_key="csrf_failed")


def error_page(
    request: Request, ctx: Context, staff: StaffClaims | None, err: DomainError
) -> Response:
    return page(
        request, ctx, "error.html", status=err.status, screen="error", staff=staff,
        error_code=err.code,
    )  # fmt: skip


# --- sign in -------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def sign_in_page(request: Request, ctx: UnitOfWork) -> Response:
    if clerk(request, ctx) is not None:
        return see_other("/console/find")
    notice = "session_expired" if request.query_params.get("expired") else None
    return page(request, ctx, "sign_in.html", screen="console-sign-in", notice=notice)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.staff.service import sign_in as staff_sign_in

    form = await posted(request, ctx)
    if isinstance(form, Response):
        return form
    login, password = form.get("login", ""), form.get("password", "")
    values = {"login": login}
    errors: dict[str, str] = {}
    if not login or len(login) > 64:
        errors["login"] = "login_required"
    if not password or len(password) > 200:
        errors["password"] = "staff_password_required"  # noqa: S105 (a message key)
    if errors:
        return page(
            request, ctx, "sign_in.html", status=422, screen="console-sign-in", form=values,
            errors=errors,
        )  # fmt: skip
    try:
        issued = attempt(ctx, lambda: staff_sign_in(ctx, login, password))
    except DomainError as err:
        return page(
            request, ctx, "sign_in.html", status=err.status, screen="console-sign-in",
            form=values, failure=err.code, locked_until=err.extra.get("locked_until"),
        )  # fmt: skip
    if issued.role != CLERK or not issued.store_code:
        return page(
            request, ctx, "sign_in.html", status=403, screen="console-sign-in", form=values,
            failure="not_a_clerk",
        )  # fmt: skip
    return new_session(
        request,
        "/console/find",
        lambda r: cs.sign_in(request, r, issued.access_token, issued.expires_in),
    )


@router.post("/sign-out")
async def sign_out(request: Request, ctx: UnitOfWork) -> Response:
    form = await posted(request, ctx)
    if isinstance(form, Response):
        return form
    return new_session(request, "/console", cs.sign_out)


# --- find a line, enter the documents ------------------------------------------------------


@router.get("/find", response_class=HTMLResponse)
def find_page(request: Request, ctx: UnitOfWork, msisdn: str = "") -> Response:
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    msisdn = msisdn.replace(" ", "")
    if not msisdn:
        return page(request, ctx, "find.html", screen="find", staff=staff)
    if not cv.MSISDN.match(msisdn):
        return page(
            request, ctx, "find.html", status=422, screen="find", staff=staff,
            form={"msisdn": msisdn[:20]}, errors={"msisdn": "msisdn_invalid"},
        )  # fmt: skip
    return line_page(request, ctx, staff, msisdn)


def line_page(
    request: Request,
    ctx: Context,
    staff: StaffClaims,
    msisdn: str,
    *,
    status: int = 200,
    docs: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    failure: DomainError | None = None,
) -> Response:
    try:
        line = cv.find_line(ctx, msisdn)
    except DomainError as err:
        return page(
            request, ctx, "find.html", status=err.status, screen="find", staff=staff,
            form={"msisdn": msisdn}, errors={"msisdn": "error_" + err.code},
        )  # fmt: skip
    return page(
        request, ctx, "documents.html", status=status, screen="documents", staff=staff,
        line=line, form=docs or {"mode": "owner", "msisdn": msisdn}, errors=errors or {},
        failure=failure, id_types=cv.ID_TYPES,
    )  # fmt: skip


@router.post("/visit", response_class=HTMLResponse)
async def start_visit(request: Request, ctx: UnitOfWork) -> Response:
    """The documents the clerk has seen: kept for this customer's visit, then the check."""
    got = await clerk_posted(request, ctx)
    if isinstance(got, Response):
        return got
    form, staff = got
    msisdn = form.get("msisdn", "").replace(" ", "")
    if not cv.MSISDN.match(msisdn):
        return see_other("/console/find")
    documents, errors = cv.documents_of(form)
    if errors:
        shown = {**form, "msisdn": msisdn}
        return line_page(request, ctx, staff, msisdn, status=422, docs=shown, errors=errors)
    visit = cs.Visit(msisdn, documents)
    response = check_view(request, ctx, staff, visit)
    cs.start_visit(request, response, ctx, staff, visit)
    return response


@router.post("/visit/end")
async def end_visit(request: Request, ctx: UnitOfWork) -> Response:
    """Next customer: the documents of this one are forgotten."""
    form = await posted(request, ctx)
    if isinstance(form, Response):
        return form
    response = see_other("/console/find")
    cs.end_visit(response)
    return response


# --- the store check, a payment, the cancellation ------------------------------------------


@router.get("/visit", response_class=HTMLResponse)
def visit_page(request: Request, ctx: UnitOfWork) -> Response:
    """The visit under way (after a language switch, say). The check itself runs only in a
    POST: it reads documents, which a failed comparison counts and the audit trail keeps,
    and a GET writes nothing."""
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    visit = cs.visit_of(request, ctx, staff)
    if visit is None:
        return see_other("/console/find")
    return page(request, ctx, "visit.html", screen="visit", staff=staff, visit=visit)


@router.post("/visit/check", response_class=HTMLResponse)
async def check_again(request: Request, ctx: UnitOfWork) -> Response:
    got = await visit_posted(request, ctx)
    if isinstance(got, Response):
        return got
    _form, staff, visit = got
    return check_view(request, ctx, staff, visit)


def check_view(
    request: Request,
    ctx: Context,
    staff: StaffClaims,
    visit: cs.Visit,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    failure: str | None = None,
    paid: dict[str, Any] | None = None,
    cleared: str | None = None,
) -> Response:
    """The check for the visit's line and documents; a refusal of the documents themselves
    (missing, not the owner's) goes back to the documents form, saying which."""
    try:
        result = attempt(ctx, lambda: cv.check(ctx, staff, visit.msisdn, visit.documents))
    except DomainError as err:
        if err.code in ("DOCUMENTS_MISSING", "REAL_NAME_MISMATCH", "AGENT_IS_OWNER",
                        "VALIDATION_FAILED"):  # fmt: skip
            return line_page(
                request, ctx, staff, visit.msisdn, status=err.status,
                docs={**cv.documents_form(visit.documents), "msisdn": visit.msisdn},
                failure=err,
            )  # fmt: skip
        return error_page(request, ctx, staff, err)
    shown = form or {"route": "cash", "method": "cash", "ack": []}
    if not form and result.get("owed_fen"):
        shown["amount"] = plain_yuan(result["owed_fen"])
    return page(
        request, ctx, "check.html", status=status, screen="check", staff=staff, visit=visit,
        result=result, form=shown, errors=errors or {}, failure=failure, paid=paid,
        cleared=cleared, here="/console/visit",
    )  # fmt: skip


@router.post("/visit/pay", response_class=HTMLResponse)
async def take_payment(request: Request, ctx: UnitOfWork) -> Response:
    got = await visit_posted(request, ctx)
    if isinstance(got, Response):
        return got
    form, staff, visit = got
    try:
        paid, errors = attempt(ctx, lambda: cv.pay(ctx, staff, visit.msisdn, form))
    except DomainError as err:
        return check_view(request, ctx, staff, visit, status=err.status, failure=err.code)
    if errors:
        return check_view(request, ctx, staff, visit, status=422, form=form, errors=errors)
    # The check again, in this POST (a GET writes nothing): a reload sends the same form,
    # whose key replays the payment instead of taking it twice.
    return check_view(request, ctx, staff, visit, paid=paid)


@router.post("/visit/clear", response_class=HTMLResponse)
async def clear_at_counter(request: Request, ctx: UnitOfWork) -> Response:
    """A blocker the counter clears at once (a lost state, a missing real-name registration),
    on this visit's documents; then the check again."""
    got = await visit_posted(request, ctx)
    if isinstance(got, Response):
        return got
    form, staff, visit = got
    action = form.get("action", "")
    try:
        attempt(ctx, lambda: cv.clear_at_counter(ctx, staff, visit.msisdn, visit.documents,
                                                 action))  # fmt: skip
    except DomainError as err:
        return check_view(request, ctx, staff, visit, status=err.status, failure=err.code)
    return check_view(request, ctx, staff, visit, cleared=action)


@router.post("/visit/cancel", response_class=HTMLResponse)
async def cancel(request: Request, ctx: UnitOfWork) -> Response:
    got = await visit_posted(request, ctx)
    if isinstance(got, Response):
        return got
    form, staff, visit = got
    try:
        status, done, errors = attempt(
            ctx, lambda: cv.cancel(ctx, staff, visit.msisdn, visit.documents, form)
        )
    except DomainError as err:
        return check_view(request, ctx, staff, visit, status=err.status, form=form,
                          failure=err.code)  # fmt: skip
    if errors:
        return check_view(request, ctx, staff, visit, status=422, form=form, errors=errors)
    target = done.get("id") or ""
    if status == 202 or not target:
        return page(request, ctx, "pending.html", status=202, screen="pending", staff=staff,
                    done=done)  # fmt: skip
    response = see_other(f"/console/cancellations/{quote(str(target))}?new=1")
    return response


# --- the cancellation and its receipt ------------------------------------------------------


@router.get("/cancellations/{cancellation_id}", response_class=HTMLResponse)
def cancellation_page(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    try:
        done = cv.cancellation(ctx, staff, cancellation_id)
    except DomainError as err:
        return error_page(request, ctx, staff, err)
    visit = cs.visit_of(request, ctx, staff)
    return page(
        request, ctx, "receipt.html", screen="receipt", staff=staff, done=done,
        fresh=bool(request.query_params.get("new")),
        can_reverse=visit is not None and visit.msisdn == done["msisdn"],
        failed=request.query_params.get("failed"),
        reversed=request.query_params.get("reversed"),
    )  # fmt: skip


@router.get("/cancellations/{cancellation_id}/receipt.pdf")
def receipt(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    try:
        name, body = cv.receipt_pdf(ctx, staff, cancellation_id, negotiate(request))
    except DomainError as err:
        return error_page(request, ctx, staff, err)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/cancellations/{cancellation_id}/reverse")
async def reverse(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    """Undo at the counter, within the undo window, with the owner's documents of this visit."""
    got = await clerk_posted(request, ctx)
    if isinstance(got, Response):
        return got
    _form, staff = got
    visit = cs.visit_of(request, ctx, staff)
    here = f"/console/cancellations/{quote(cancellation_id)}"
    if visit is None:
        return see_other(f"{here}?failed=DOCUMENTS_MISSING")
    try:
        attempt(ctx, lambda: cv.reverse(ctx, staff, cancellation_id, visit.documents))
    except DomainError as err:
        return see_other(f"{here}?failed={quote(err.code)}")
    return see_other(f"{here}?reversed=1")


# --- the drawer ----------------------------------------------------------------------------


@router.get("/drawer", response_class=HTMLResponse)
def drawer_page(request: Request, ctx: UnitOfWork, day: str = "") -> Response:
    staff = clerk(request, ctx)
    if staff is None:
        return to_sign_in()
    today = local_date(ctx.now())
    try:
        chosen = dt.date.fromisoformat(day) if day else today
    except ValueError:
        chosen = today
    store = str(staff.store_code)
    try:
        report = cv.drawer(ctx, store, chosen)
    except DomainError as err:
        return error_page(request, ctx, staff, err)
    return page(
        request, ctx, "drawer.html", screen="drawer", staff=staff, report=report,
        day=chosen, today=today, previous=chosen - dt.timedelta(days=1),
        following=chosen + dt.timedelta(days=1),
    )  # fmt: skip
