"""Self-service pages: close a number in a browser, in Chinese or English.

Server-rendered (Jinja2), plain HTML forms that work without JavaScript, Post/Redirect/Get after
every change. The pages call the same services as the API; a `DomainError` is never shown as
JSON here but as a page that says what happened and what to do next. Every form carries a
signed double-submit CSRF token (`web.csrf`); the session is the API's own bearer token in an
HttpOnly cookie (`web.session`).

The happy path is five screens: sign in → the line → the check → confirm → done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from xiaohu.cancellation.models import Cancellation
from xiaohu.http import UnitOfWork, runtime_of
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.web import problem_response
from xiaohu.principals import TokenClaims
from xiaohu.runtime import Context
from xiaohu.staff.deps import reading_clerk
from xiaohu.web import csrf, remedies, session, views
from xiaohu.web.i18n import LANGS, negotiate
from xiaohu.web.render import render, render_for

router = APIRouter(include_in_schema=False)
receipt_router = APIRouter(tags=["cancellation"])
STATIC = Path(__file__).parent / "static"
MSISDN = re.compile(r"^1[0-9]{10}$")
T = TypeVar("T")
log = logging.getLogger(__name__)


def mount(app: FastAPI) -> None:
    """Called by the app factory: the stylesheet, the receipt route in the API docs, and pages
    for browsers whose request was refused or failed (a missing page, a 405, a 422, the
    database down, a crash; the request guard's refusals answer through the same handlers).
    The app's own handlers stay in charge of everything else: API clients keep their
    problem+json."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(receipt_router)
    for kind, fallback in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, html_or(fallback))


def wants_html(request: Request) -> bool:
    """A browser asking for a page: Accept names text/html, and the path is not the API's.
    (A stylesheet that is not there is asked for with Accept: text/css: no page for it.)"""
    path = request.url.path
    if path.startswith(("/api/", "/docs", "/openapi", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def html_or(fallback: Callable[..., Any]) -> Callable[..., Any]:
    """The app's answer (its status, its Retry-After), as a page when a browser asked."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer: Response = await fallback(request, exc)
        if not wants_html(request):
            return answer
        page = missing_page(request, answer.status_code)
        if "retry-after" in answer.headers:
            page.headers["Retry-After"] = answer.headers["retry-after"]
        return page

    return handle


_PAGE_KINDS = {404: "not_found", 405: "method_not_allowed", 503: "unavailable"}


def missing_page(request: Request, status: int) -> Response:
    kind = _PAGE_KINDS.get(status, "server_error" if status >= 500 else "bad_request")
    runtime = request.app.state.runtime
    return render_for(
        request, runtime.settings, None, "missing.html", status=status, screen=kind,
        kind=kind, code=status,
    )  # fmt: skip


# --- helpers -------------------------------------------------------------------------------


def attempt(ctx: Context, work: Callable[[], T]) -> T:
    """Run a service call in a savepoint. A page catches domain errors and the unit of work
    then commits, so a refused call must undo its own partial writes, except a refusal whose
    writes are evidence (`DomainError.keep_writes`: a failed sign-in's count, a logged
    cancellation refusal)."""
    savepoint = ctx.session.begin_nested()
    try:
        result = work()
    except DomainError as err:
        if err.keep_writes:
            savepoint.commit()
        else:
            savepoint.rollback()
        raise
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def new_session(
    request: Request, url: str, session_cookie: Callable[[Response], None]
) -> RedirectResponse:
    """The redirect after signing in or out (`session_cookie` sets or clears the cookie), with
    a new CSRF id: a form of the session before is no good in the one after."""
    response = see_other(url)
    session_cookie(response)
    csrf.set_sid(request, response, csrf.new_sid())
    return response


async def form_of(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values if key == "ack" else (values[-1].strip() if values else "")
    return out


def csrf_ok(request: Request, ctx: Context, form: dict[str, Any]) -> bool:
    return csrf.is_valid(
        ctx.settings.key, request.cookies.get(csrf.SID_COOKIE), form.get(csrf.FIELD)
    )


def forbidden_form(request: Request, ctx: Context) -> Response:
    return render(request, ctx, "error.html", status=403, screen="csrf", error_key="csrf_failed")


def signed_in(request: Request, ctx: Context) -> TokenClaims | None:
    return session.claims_of(request, ctx)


def to_sign_in() -> RedirectResponse:
    return see_other("/?expired=1")


def local_path(target: str | None) -> str:
    """Only same-site paths may be redirect targets (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# --- language ------------------------------------------------------------------------------


@router.get("/lang")
def switch_language(request: Request, to: str = "zh", next: str = "/") -> Response:
    response = see_other(local_path(next))
    lang = to if to in LANGS else "zh"
    response.set_cookie(
        session.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True, path="/"
    )
    return response


# --- 1. sign in ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def sign_in_page(request: Request, ctx: UnitOfWork) -> Response:
    if signed_in(request, ctx) is not None:
        return see_other("/line")
    notice = "session_expired" if request.query_params.get("expired") else None
    return render(request, ctx, "sign_in.html", screen="sign-in", step=1, notice=notice)


@router.post("/sign-in/code", response_class=HTMLResponse)
async def send_code(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.identity import service as identity

    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    msisdn = form.get("msisdn", "").replace(" ", "")
    values = {"msisdn": msisdn}
    if not MSISDN.match(msisdn):
        return render(
            request, ctx, "sign_in.html", status=422, screen="sign-in", step=1,
            form=values, errors={"msisdn": "msisdn_invalid"},
        )  # fmt: skip
    if refused := over_client_limit(request, ctx, "otp"):
        return refused
    try:
        ttl = attempt(ctx, lambda: identity.request_otp(ctx, msisdn))
    except DomainError as err:
        if err.code == "VERIFICATION_LOCKED":
            return locked_page(request, ctx, err, msisdn)
        if err.code == "LINE_CANCELLED":  # no SMS any more: the reference takes the code's place
            return reference_form(request, ctx, values, status=409, notice="cancelled_found")
        if err.code == "OTP_THROTTLED":
            return render(
                request, ctx, "sign_in.html", status=429, screen="sign-in", step=1, form=values,
                code_sent=True, notice="otp_throttled", wait=err.extra.get("retry_after", 60),
            )  # fmt: skip
        return render(
            request, ctx, "sign_in.html", status=err.status, screen="sign-in", step=1,
            form=values, errors={"msisdn": "line_not_found" if err.code == "LINE_NOT_FOUND"
                                 else err.code},
        )  # fmt: skip
    return render(
        request, ctx, "sign_in.html", screen="sign-in", step=1, form=values,
        code_sent=True, notice="code_sent", minutes=max(1, ttl // 60),
    )  # fmt: skip


def over_client_limit(request: Request, ctx: Context, kind: str) -> Response | None:
    """The API's per-client limits (`identity.limits`) count the pages' sign-in too, in the
    same counters: a client cannot get round them by using the form instead of the API. None
    when within them, else the page that says how long to wait (429, `Retry-After`)."""
    limits = runtime_of(request).client_limits
    if limits is None:
        return None
    client = request.client.host if request.client else "unknown"
    try:
        if kind == "otp":
            limits.hit_otp(client)
        else:
            limits.hit_token(client)
    except DomainError as err:
        wait = int(err.extra.get("retry_after", 60))
        response = render(
            request, ctx, "rate_limited.html", status=429, screen="rate-limited", wait=wait
        )
        response.headers["Retry-After"] = str(wait)
        return response
    return None


def locked_page(request: Request, ctx: Context, err: DomainError, msisdn: str) -> Response:
    return render(
        request, ctx, "locked.html", status=429, screen="locked",
        locked_until=err.extra.get("locked_until"), msisdn=msisdn,
    )  # fmt: skip


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.identity import service as identity

    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    msisdn = form.get("msisdn", "").replace(" ", "")
    otp, password = form.get("otp", ""), form.get("service_password", "")
    values = {"msisdn": msisdn}
    errors: dict[str, str] = {}
    if not MSISDN.match(msisdn):
        errors["msisdn"] = "msisdn_invalid"
    if not re.fullmatch(r"[0-9]{6}", otp):
        errors["otp"] = "otp_invalid"
    if not re.fullmatch(r"[0-9]{6}", password):
        errors["service_password"] = "password_invalid"  # noqa: S105 (a message key)
    if errors:
        return render(
            request, ctx, "sign_in.html", status=422, screen="sign-in", step=1,
            form=values, errors=errors, code_sent=bool(msisdn),
        )  # fmt: skip
    if refused := over_client_limit(request, ctx, "token"):
        return refused
    try:
        issued = attempt(ctx, lambda: identity.sign_in(ctx, msisdn, otp, password))
    except DomainError as err:
        if err.code == "VERIFICATION_LOCKED":
            return locked_page(request, ctx, err, msisdn)
        return render(
            request, ctx, "sign_in.html", status=err.status, screen="wrong-code", step=1,
            form=values, code_sent=True, failure=True,
            attempts_left=err.extra.get("attempts_left"),
        )  # fmt: skip
    return new_session(
        request,
        "/line",
        lambda r: session.sign_in(request, r, issued.access_token, issued.expires_in),
    )


# A cancelled number receives no SMS: it signs in with its cancellation's reference, the
# service password and the owner's ID number (API.md), to undo or to read the settlement.


def reference_form(
    request: Request,
    ctx: Context,
    values: dict[str, str],
    *,
    status: int = 200,
    **shown: Any,
) -> Response:
    return render(
        request, ctx, "sign_in_reference.html", status=status, screen="sign-in-reference",
        step=1, form=values, **shown,
    )  # fmt: skip


@router.get("/sign-in/reference", response_class=HTMLResponse)
def reference_page(request: Request, ctx: UnitOfWork, msisdn: str = "") -> Response:
    if signed_in(request, ctx) is not None:
        return see_other("/line")
    return reference_form(request, ctx, {"msisdn": msisdn if MSISDN.match(msisdn) else ""})


@router.post("/sign-in/reference", response_class=HTMLResponse)
async def sign_in_with_reference(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.signin.reference import sign_in_by_reference

    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    msisdn = form.get("msisdn", "").replace(" ", "")
    reference, password = form.get("reference", ""), form.get("service_password", "")
    id_number = form.get("id_number", "")
    values = {"msisdn": msisdn, "reference": reference}
    errors: dict[str, str] = {}
    if not MSISDN.match(msisdn):
        errors["msisdn"] = "msisdn_invalid"
    if not reference or len(reference) > 40:
        errors["reference"] = "reference_required"
    if not re.fullmatch(r"[0-9]{6}", password):
        errors["service_password"] = "password_invalid"  # noqa: S105 (a message key)
    if not id_number or len(id_number) > 40:
        errors["id_number"] = "id_required"
    if errors:
        return reference_form(request, ctx, values, status=422, errors=errors)
    if refused := over_client_limit(request, ctx, "token"):
        return refused
    try:
        issued = attempt(
            ctx, lambda: sign_in_by_reference(ctx, msisdn, reference, password, id_number)
        )
    except DomainError as err:
        if err.code == "VERIFICATION_LOCKED":
            return locked_page(request, ctx, err, msisdn)
        if "attempts_left" not in err.extra:  # not a cancelled number: it gets a code
            return reference_form(request, ctx, values, status=err.status, notice="not_cancelled")
        return reference_form(
            request, ctx, values, status=err.status, failure=True,
            attempts_left=err.extra.get("attempts_left"),
        )  # fmt: skip
    return new_session(
        request,
        "/line",  # a cancelled line's page is its done page
        lambda r: session.sign_in(request, r, issued.access_token, issued.expires_in),
    )


@router.post("/sign-out")
async def sign_out(request: Request, ctx: UnitOfWork) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    return new_session(request, "/", session.sign_out)


# --- 2. the line ---------------------------------------------------------------------------


@router.get("/line", response_class=HTMLResponse)
def line_page(request: Request, ctx: UnitOfWork) -> Response:
    from xiaohu.overview.service import line_view

    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        line = line_view(ctx, claims.msisdn)
    except DomainError as err:
        return error_page(request, ctx, err)
    if line.status == "cancelled":
        latest = views.latest_cancellation_id(ctx, claims.msisdn)
        if latest:
            return see_other(f"/done/{latest}")
    return render(
        request, ctx, "line.html", screen="line", step=2, line=views.as_dict(line),
        claims=claims,
    )  # fmt: skip


# --- 3. the check --------------------------------------------------------------------------


@router.get("/line/check", response_class=HTMLResponse)
def check_page(request: Request, ctx: UnitOfWork) -> Response:
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        result = views.run_check(ctx, claims.msisdn)
    except DomainError as err:
        return error_page(request, ctx, err)
    if result.get("cancelled_id"):
        return see_other(f"/done/{result['cancelled_id']}")
    return render(
        request, ctx, "check.html", screen="check", step=3, result=result, claims=claims,
        done=request.query_params.get("done"), failed=request.query_params.get("failed"),
        other_lines=views.other_lines(ctx, claims.msisdn),
    )  # fmt: skip


@router.get("/line/remedy/review", response_class=HTMLResponse)
def remedy_review(request: Request, ctx: UnitOfWork) -> Response:
    """The confirmation screen of a remedy: amount, what for, where the money comes from."""
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    params = {k: request.query_params.get(k, "") for k in remedies.KEYS}
    try:
        shown = remedies.review(ctx, claims.msisdn, params)
    except DomainError as err:
        return see_other(f"/line/check?failed={quote(err.code)}")
    if shown is None:  # fixed meanwhile (another tab, a refresh after the confirm)
        return see_other("/line/check")
    return render(request, ctx, "remedy.html", screen="remedy", step=3, review=shown, claims=claims)


@router.post("/line/remedy")
async def remedy(request: Request, ctx: UnitOfWork) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    action = form.get("action", "")
    if action in remedies.CONFIRM_FIRST and form.get("confirmed") != "1":
        return see_other(remedies.review_url(form))  # never on one tap
    try:
        attempt(ctx, lambda: remedies.apply_remedy(ctx, claims.msisdn, action, form))
    except DomainError as err:
        return see_other(f"/line/check?failed={quote(err.code)}")
    return see_other(f"/line/check?done={quote(action)}")


# --- 4. confirm ----------------------------------------------------------------------------


@router.get("/line/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, ctx: UnitOfWork) -> Response:
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        result = views.run_check(ctx, claims.msisdn)
    except DomainError as err:
        return error_page(request, ctx, err)
    if not result["eligible"]:
        return see_other("/line/check")
    return confirm_view(request, ctx, result, claims)


def confirm_view(
    request: Request,
    ctx: Context,
    result: dict[str, Any],
    claims: TokenClaims,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request, ctx, "confirm.html", status=status, screen="confirm", step=4, result=result,
        claims=claims, form=form or {"route": "original", "ack": []}, errors=errors or {},
        routes=views.refund_routes(ctx, claims.msisdn),
        other_lines=views.other_lines(ctx, claims.msisdn),
    )  # fmt: skip


@router.post("/line/cancel", response_class=HTMLResponse)
async def cancel(request: Request, ctx: UnitOfWork) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    errors = views.validate_cancel_form(form, views.owner_id_type(ctx, claims.msisdn))
    if not errors:
        try:
            cancellation_id = attempt(ctx, lambda: views.cancel(ctx, claims.msisdn, form))
        except DomainError as err:
            if err.code in ("QUOTE_EXPIRED", "QUOTE_NOT_FOUND"):
                return render(request, ctx, "expired.html", status=409, screen="expired", step=3)
            if err.code in ("CANCELLATION_BLOCKED", "ALREADY_CANCELLED"):
                return see_other("/line/check")  # a blocked attempt's refusal is kept
            errors = {views.FIELD_OF_ERROR.get(err.code, "form"): err.code}
        else:
            return see_other(f"/done/{cancellation_id}")
    try:
        result = views.run_check(ctx, claims.msisdn)
    except DomainError as err:
        return error_page(request, ctx, err)
    if not result["eligible"]:
        return see_other("/line/check")
    status = 403 if "REAL_NAME_MISMATCH" in errors.values() else 422
    return confirm_view(request, ctx, result, claims, status=status, form=form, errors=errors)


# --- 5. done -------------------------------------------------------------------------------


@router.get("/done/{cancellation_id}", response_class=HTMLResponse)
def done_page(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        done = views.own_cancellation(ctx, cancellation_id, claims.msisdn)
    except DomainError as err:
        return error_page(request, ctx, err)
    return render(
        request, ctx, "done.html", screen="done", step=5, done=done, claims=claims,
        not_restored=lambda items: views.not_restored_text(items, negotiate(request)),
        failed=request.query_params.get("failed"),
        reversed=request.query_params.get("reversed"),
    )  # fmt: skip


@router.post("/done/{cancellation_id}/undo")
async def undo(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        views.own_cancellation(ctx, cancellation_id, claims.msisdn)
        attempt(ctx, lambda: views.reverse(ctx, cancellation_id))
    except DomainError as err:
        return see_other(f"/done/{cancellation_id}?failed={quote(err.code)}")
    return see_other(f"/done/{cancellation_id}?reversed=1")


def error_page(request: Request, ctx: Context, err: DomainError) -> Response:
    return render(
        request, ctx, "error.html", status=err.status, screen="error", error_code=err.code
    )


# --- the receipt (API and pages) -----------------------------------------------------------


def _receipt_reader(cancellation_id: str, request: Request, ctx: UnitOfWork) -> str | None:
    """The number whose receipt the caller may read: their line's, or for any clerk's token
    any cancellation (the receipt handed over at the counter)."""
    if reading_clerk(request, ctx) is not None:
        c = ctx.session.get(Cancellation, cancellation_id)
        if c is None:
            raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
        return c.msisdn
    claims = session.bearer_or_cookie(request, ctx)
    return claims.msisdn if claims is not None else None


@receipt_router.get(
    "/api/v1/cancellations/{cancellation_id}/receipt.pdf",
    summary="The cancellation receipt (销户证明) as a PDF",
    description="Bearer token or the pages' session cookie: the cancelled line's own, or a "
    "clerk's token (any province).",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The receipt"},
        **error_responses("UNAUTHENTICATED", "FORBIDDEN", "CANCELLATION_NOT_FOUND"),
    },
)
def receipt_pdf(cancellation_id: str, request: Request, ctx: UnitOfWork) -> Response:
    try:
        msisdn = _receipt_reader(cancellation_id, request, ctx)
        if msisdn is None:
            return problem_response(
                DomainError(
                    "UNAUTHENTICATED",
                    "a bearer token or a signed-in page session is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            )
        data = views.receipt_data(ctx, cancellation_id, msisdn, negotiate(request))
        if data.status in ("pending_review", "rejected"):  # a work order's request: no receipt
            raise DomainError(
                "CANCELLATION_NOT_FOUND", f"{cancellation_id} is {data.status}: nothing was done"
            )
    except DomainError as err:
        return problem_response(err)
    from xiaohu.web.receipt import ReceiptFontMissing
    from xiaohu.web.receipt import render as render_pdf

    try:
        body = render_pdf(data)
    except ReceiptFontMissing as exc:  # an installation problem, said plainly
        log.error("receipt not rendered: %s", exc)
        return problem_response(DomainError("INTERNAL_ERROR", str(exc)))
    filename = f"xiaohu-receipt-{data.reference}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
