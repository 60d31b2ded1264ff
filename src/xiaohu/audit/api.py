"""Audit log operations endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from xiaohu.audit import service
from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import error_responses

# Production: the operator's admin token (`http.require_admin`); sandbox: open.
router = APIRouter(
    prefix="/api/v1/admin/audit",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get("/verify", summary="Recompute every hash chain of the audit log")
def verify(ctx: UnitOfWork) -> dict[str, Any]:
    return service.verify(ctx.session)
