"""Ledger operations endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.ledger import service
from xiaohu.regions.rules import province_problem

# Production: the operator's admin token (`http.require_admin`); sandbox: open.
router = APIRouter(
    prefix="/api/v1/admin/ledger",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get(
    "/trial-balance",
    summary="Trial balance: debits equal credits across the ledger, or in one province's books",
    description=(
        "National by default. With `province_code`, that province's books only: its journal "
        "transactions, each of which touches its own accounts (what it owes other provinces "
        "and is owed by them are its `due_to:*` and `due_from:*` accounts)."
    ),
    responses=error_responses("VALIDATION_FAILED"),
)
def trial_balance(
    ctx: UnitOfWork,
    province_code: Annotated[
        str | None, Query(description="GB/T 2260 province code: that province's books")
    ] = None,
) -> dict[str, Any]:
    if province_code is not None:
        problem = province_problem(province_code)
        if problem is not None:
            raise DomainError(
                "VALIDATION_FAILED",
                problem,
                errors=[{"field": "province_code", "reason": problem}],
            )
    return service.trial_balance(ctx.session, province_code)
