"""Ledger operations endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xiaohu.kit.web import UnitOfWork
from xiaohu.ledger import service

router = APIRouter(prefix="/api/v1/admin/ledger", tags=["operations"])


@router.get("/trial-balance", summary="Trial balance: debits equal credits across the ledger")
def trial_balance(ctx: UnitOfWork) -> dict[str, Any]:
    return service.trial_balance(ctx.session)
