"""Audit log operations endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xiaohu.audit import service
from xiaohu.kit.web import UnitOfWork

router = APIRouter(prefix="/api/v1/admin/audit", tags=["operations"])


@router.get("/verify", summary="Recompute every hash chain of the audit log")
def verify(ctx: UnitOfWork) -> dict[str, Any]:
    return service.verify(ctx.session)
