"""Work orders over HTTP: the back office's queue and its decisions. Thin: the service decides."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.kit.errors import error_responses
from xiaohu.principals import StaffClaims
from xiaohu.staff.deps import require_role
from xiaohu.staff.models import Role
from xiaohu.workorders import decision, service
from xiaohu.workorders.schemas import DecisionIn, DecisionOut, WorkOrderListOut, WorkOrderOut

router = APIRouter(prefix="/api/v1/workorders", tags=["work orders"])
back_office = require_role(Role.BACKOFFICE, Role.ADMIN)


@router.get(
    "",
    response_model=WorkOrderListOut,
    summary="The work-order queue: a back office its own province's, an admin every one",
    description=(
        "`open` includes the overdue ones, `overdue` is the open ones past `due_at`, `closed` "
        "the decided ones; no status: all. `overdue` is computed as the list is read. "
        "A national deployment gathers an admin's list from every node: one that does not "
        "answer makes it `503 NODE_UNAVAILABLE`."
    ),
    responses=error_responses(
        "UNAUTHENTICATED", "FORBIDDEN", "VALIDATION_FAILED", "NODE_UNAVAILABLE"
    ),
)
def list_work_orders(
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(back_office),
    status: Literal["open", "overdue", "closed"] | None = Query(None),
) -> dict[str, Any]:
    return {"work_orders": service.queue(ctx, staff, status)}


@router.get(
    "/{order_id}",
    response_model=WorkOrderOut,
    summary="One work order",
    responses=error_responses(
        "UNAUTHENTICATED", "FORBIDDEN", "WORK_ORDER_NOT_FOUND", "NODE_UNAVAILABLE"
    ),
)
def get_work_order(
    order_id: str, ctx: UnitOfWork, staff: StaffClaims = Depends(back_office)
) -> dict[str, Any]:
    return service.read_one(ctx, staff, order_id)


@router.post(
    "/{order_id}/decision",
    response_model=DecisionOut,
    summary="Approve or reject a work order (the home province's back office)",
    description=(
        "Approval completes the cancellation (refund, SMS, quarantine) as an immediate one "
        "would, priced again under the home rules if the quote has expired; rejection leaves "
        "the line as it was, sets the cancellation's status to `rejected` and logs a refusal "
        "with the code `REVIEW_REJECTED` and the reason. Accepts `Idempotency-Key`."
    ),
    responses=error_responses(
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "WORK_ORDER_NOT_FOUND",
        "WORK_ORDER_DECIDED",
        "CANCELLATION_BLOCKED",
        "ALREADY_CANCELLED",
        "REFUND_ROUTE_INVALID",
        "VALIDATION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
    ),
)
def decide(
    order_id: str,
    body: DecisionIn,
    request: Request,
    ctx: UnitOfWork,
    staff: StaffClaims = Depends(back_office),
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        return 200, decision.decide(ctx, staff, order_id, body.decision, body.reason)

    return run_idempotent(ctx, request, f"workorder:{order_id}", body.model_dump(), work)
