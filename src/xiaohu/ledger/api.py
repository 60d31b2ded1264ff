"""Ledger operations endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from xiaohu.kit.web import unit_of_work
from xiaohu.ledger import service
from xiaohu.runtime import Context

router = APIRouter(prefix="/api/v1/admin/ledger", tags=["operations"])


@router.get("/trial-balance", summary="Trial balance: debits equal credits across the ledger")
def trial_balance(ctx: Context = Depends(unit_of_work)) -> dict[str, Any]:
    return service.trial_balance(ctx.session)
