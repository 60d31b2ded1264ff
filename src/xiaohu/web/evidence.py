"""Refusal evidence routes (API.md Part 2, the last item): the list of a line's refusals, and
each one's signed notice (拒绝销户告知书).

Who may read them: the line's own token (the subscriber's, or a hotline session's, or the
pages' cookie), or a clerk helping at a counter (any province's). Reading writes
nothing (a GET's unit of work is read-only).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from xiaohu.cancellation import refusals
from xiaohu.cancellation.models import Refusal
from xiaohu.http import UnitOfWork, bearer_token
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.lines.models import Line
from xiaohu.lines.service import get_line
from xiaohu.runtime import Context
from xiaohu.staff.deps import reading_clerk
from xiaohu.stores.models import Store
from xiaohu.web import notice, session
from xiaohu.web.receipt import ReceiptFontMissing

router = APIRouter(tags=["cancellation"])
log = logging.getLogger(__name__)


class RefusalMessageOut(BaseModel):
    code: str
    message: str
    message_en: str
    remedy: dict[str, Any] | None = None


class RefusalOut(BaseModel):
    reference: str | None
    at: str
    channel: str
    store_code: str | None
    codes: list[str]
    messages: list[RefusalMessageOut]


class RefusalsOut(BaseModel):
    refusals: list[RefusalOut]


def reader_line(request: Request, ctx: Context, msisdn: str) -> Line:
    """The line whose evidence is asked for, if the token may read it: the line's own token
    (a hotline session's included), or any clerk's; 403 otherwise."""
    claims = session.bearer_or_cookie(request, ctx)
    if claims is not None:
        if claims.msisdn != msisdn:
            raise DomainError("FORBIDDEN", "this token acts on another line")
        ctx.actor = claims.actor
        return get_line(ctx.session, msisdn)
    bearer_token(request)  # 401 when there is none
    if reading_clerk(request, ctx) is None:
        raise DomainError(
            "UNAUTHENTICATED",
            "the token is invalid or has expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return get_line(ctx.session, msisdn)


@router.get(
    "/api/v1/lines/{msisdn}/refusals",
    response_model=RefusalsOut,
    summary="Every refused cancellation of the line, newest first (complaint evidence)",
    description=(
        "Each refusal with its notice reference, when and where it happened, its blocker "
        "codes and, per blocker, the messages and remedy as shown. The line's token (or a "
        "hotline session's), or any clerk's."
    ),
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND"),
)
def list_refusals(msisdn: str, request: Request, ctx: UnitOfWork) -> dict[str, Any]:
    line = reader_line(request, ctx, msisdn)
    return {"refusals": [refusals.as_json(r) for r in refusals.of_line(ctx, line)]}


@router.get(
    "/api/v1/lines/{msisdn}/refusals/{reference}.pdf",
    summary="A refusal's signed notice (拒绝销户告知书) as a PDF",
    description=(
        "Chinese with English beside: the line (masked), when and where, each reason with its "
        "remedy, and the complaint route (the operator's customer service, then MIIT's telecom "
        "user complaint centre). Signed (PAdES), so any change shows."
    ),
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The signed notice"},
        **error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND", "REFUSAL_NOT_FOUND"),
    },
)
def refusal_notice(msisdn: str, reference: str, request: Request, ctx: UnitOfWork) -> Response:
    line = reader_line(request, ctx, msisdn)
    refusal = refusals.find(ctx, line, reference)
    settings = ctx.settings
    password = settings.notice_cert_password
    try:
        body = notice.signed(
            notice_data(ctx, line, refusal),
            settings.key,
            settings.notice_cert,
            password.get_secret_value() if password else None,
        )
    except ReceiptFontMissing as exc:  # an installation problem, said plainly
        log.error("refusal notice not rendered: %s", exc)
        raise DomainError("INTERNAL_ERROR", str(exc)) from exc
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="xiaohu-refusal-{reference}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


def notice_data(ctx: Context, line: Line, refusal: Refusal) -> notice.NoticeData:
    store = None
    if refusal.store_code:
        row = ctx.session.get(Store, refusal.store_code)
        store = f"{row.name}（{row.code}）" if row else refusal.store_code
    return notice.NoticeData(
        reference=refusal.reference or "",
        msisdn_masked=mask_msisdn(line.msisdn),
        at=refusal.at,
        channel=refusal.channel,
        store=store,
        reasons=[
            notice.Reason(
                code=str(m["code"]),
                message=str(m["message"]),
                message_en=str(m["message_en"]),
                remedy=m["remedy"],
            )
            for m in refusals.messages_of(refusal)
        ],
        operator_name=ctx.settings.operator_name,
        operator_phone=ctx.settings.operator_service_phone,
    )
