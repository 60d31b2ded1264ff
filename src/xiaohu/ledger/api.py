"""Ledger operations endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import error_responses
from xiaohu.ledger import service

# Production: the operator's admin token (`http.require_admin`); sandbox: open.
router = APIRouter(
    prefix="/api/v1/admin/ledger",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get("/trial-balance", summary="Trial balance: debits equal credits across the ledger")
def trial_balance(ctx: UnitOfWork) -> dict[str, Any]:
    return service.trial_balance(ctx.session)
