"""Settlement routes for the operator (API.md Part 2, "Cross-region work"): the period's gross
dues, its settlement, the matrix's picture. The statement PDFs are served by `web/` (they use
its bilingual PDF page); the sandbox run by `settlement/sandbox_api.py`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR, PERIOD_PATTERN
from xiaohu.kit.errors import error_responses
from xiaohu.settlement import picture, service

router = APIRouter(
    prefix="/api/v1/admin/settlement",
    tags=["settlement"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)
PERIOD_DOC = f"YYYY-MM (Asia/Shanghai month), years {MIN_YEAR} to {MAX_YEAR}"


@router.get(
    "/dues",
    summary="The period's gross dues between provinces, as the ledger holds them",
    description=(
        "Each ordered pair of provinces with a due in the period: `from` owes `to` "
        "`amount_fen` (the movement on `due_to:{from}:{to}` in journal transactions posted "
        "in that month, settlements left out). An amount is negative only where a due of an "
        "earlier month was reversed in this one."
    ),
    responses=error_responses("PERIOD_INVALID", "VALIDATION_FAILED", "NODE_UNAVAILABLE"),
)
def dues(
    ctx: UnitOfWork,
    period: str = Query(max_length=7, description=PERIOD_DOC, examples=["2026-11"],
                        json_schema_extra={"pattern": PERIOD_PATTERN}),
) -> dict[str, Any]:  # fmt: skip
    return service.dues_answer(ctx, period)


@router.get(
    "/{period}",
    summary="A settled period: its transfers and each province's statement",
    description="The object the settlement run answered, unchanged.",
    responses=error_responses("PERIOD_INVALID", "SETTLEMENT_NOT_FOUND"),
)
def settlement(period: str, ctx: UnitOfWork) -> dict[str, Any]:
    return service.find(ctx, period)


@router.get(
    "/{period}/matrix.png",
    summary="A picture of the settled period's dues matrix (payer by row, receiver by column)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "A heat map, amounts in yuan"},
        **error_responses("PERIOD_INVALID", "SETTLEMENT_NOT_FOUND"),
    },
)
def matrix(period: str, ctx: UnitOfWork) -> Response:
    service.find(ctx, period)
    body = picture.render(period, service.dues_of(ctx, period))
    return Response(body, media_type="image/png", headers={"Cache-Control": "no-store"})
