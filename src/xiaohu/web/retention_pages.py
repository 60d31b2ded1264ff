"""The subscriber's retention (停机保号) and reactivation (复机) pages, from the signed-in line.

One screen, `/line/retention`: for a line that may be retained, the check (the fee a month from
the start date, the months the balance covers, every blocker with its remedy) and, when
nothing blocks, the button that applies; for a retained or arrears-suspended line, what it
costs now, the amount owed (with the way to pay it) and the button that reactivates. The
forms post to the same services as the API, with the pages' CSRF token, then redirect back
(Post/Redirect/Get) with what happened.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from xiaohu.billing.service import PaymentSource, arrears_fen
from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import DomainError
from xiaohu.lines.service import get_line
from xiaohu.retention import service
from xiaohu.retention.rules import SUSPENDED_STATES
from xiaohu.runtime import Context
from xiaohu.web import remedies, views
from xiaohu.web.pages import (
    attempt,
    csrf_ok,
    error_page,
    forbidden_form,
    form_of,
    see_other,
    signed_in,
    to_sign_in,
)
from xiaohu.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = "/line/retention"
DONE = ("retained", "reactivated", "paid")


@router.get(PAGE, response_class=HTMLResponse)
def retention_page(request: Request, ctx: UnitOfWork) -> Response:
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    try:
        line = get_line(ctx.session, claims.msisdn)
        if line.status == "cancelled":
            return see_other("/line")
        suspended = line.status in SUSPENDED_STATES
        check = None if suspended else views.as_dict(service.check(ctx, claims.msisdn))
        retained = views.as_dict(service.retention_view(ctx, line)) if suspended else None
        owed = arrears_fen(ctx.session, [line.id])
    except DomainError as err:
        return error_page(request, ctx, err)
    done = request.query_params.get("done")
    return render(
        request, ctx, "retention.html", screen="retention", claims=claims,
        status_now=line.status, suspended=suspended, check=check, retained=retained,
        owed_fen=owed, arrears_since=line.arrears_since, plan_fee_fen=line.plan_monthly_fee_fen,
        done=done if done in DONE else None, failed=request.query_params.get("failed"),
    )  # fmt: skip


@router.post(PAGE, response_class=HTMLResponse)
async def apply_retention(request: Request, ctx: UnitOfWork) -> Response:
    return await _act(request, ctx, "retained")


@router.post("/line/reactivation", response_class=HTMLResponse)
async def reactivate(request: Request, ctx: UnitOfWork) -> Response:
    return await _act(request, ctx, "reactivated")


@router.post("/line/retention/pay", response_class=HTMLResponse)
async def pay_blocker(request: Request, ctx: UnitOfWork) -> Response:
    """An ARREARS blocker's payment, of the amount shown on the check (the bills only: no
    final bill here, unlike the cancellation's payment review)."""
    return await _act(request, ctx, "paid")


async def _act(request: Request, ctx: Context, what: str) -> Response:
    form = await form_of(request)
    if not csrf_ok(request, ctx, form):
        return forbidden_form(request, ctx)
    claims = signed_in(request, ctx)
    if claims is None:
        return to_sign_in()
    msisdn = claims.msisdn
    try:
        if what == "retained":
            attempt(ctx, lambda: service.apply(ctx, msisdn))
        elif what == "paid":
            attempt(ctx, lambda: remedies.apply_remedy(ctx, msisdn, "pay", form))
        else:
            shown = int(form.get("amount_fen") or 0)
            owed = arrears_fen(ctx.session, [get_line(ctx.session, msisdn).id])
            if shown != owed:  # the amount changed since the page was shown: show it again
                return see_other(PAGE)
            # What is owed is paid online first (the amount the page showed), then 复机.
            payment = PaymentSource(method="online") if owed else None
            key = form.get("form_key") or None
            attempt(
                ctx,
                lambda: service.reactivate(ctx, msisdn, payment=payment, idempotency_key=key),
            )
    except DomainError as err:
        return see_other(f"{PAGE}?failed={quote(err.code)}")
    return see_other(f"{PAGE}?done={what}")
