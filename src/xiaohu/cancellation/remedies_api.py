"""Remedies for what hangs off a line and blocks its cancellation: broadband bundle, family group,
pending orders (the work is `lines.bundles`). Here, above identity, for the subscriber's token."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from xiaohu.http import UnitOfWork, run_idempotent
from xiaohu.identity.deps import require_line
from xiaohu.kit.errors import error_responses
from xiaohu.lines import bundles
from xiaohu.principals import TokenClaims

router = APIRouter(prefix="/api/v1/lines", tags=["remedies"])

MSISDN = r"^1[0-9]{10}$"
_COMMON = ("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND", "ALREADY_CANCELLED")


class BundleReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["move_anchor", "cancel_broadband"]
    to_msisdn: str | None = Field(None, pattern=MSISDN, description="for move_anchor")


class BundleReleaseOut(BaseModel):
    bundle_id: str
    action: str
    anchor_msisdn: str | None = None


class FamilyReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["remove_members", "rehome"]
    to_msisdn: str | None = Field(None, pattern=MSISDN, description="for rehome")


class FamilyReleaseOut(BaseModel):
    group_id: str
    action: str
    primary_msisdn: str | None = None
    members_removed: int | None = None


class OrderCancelOut(BaseModel):
    order_id: str
    kind: str
    status: str


@router.post(
    "/{msisdn}/bundle/release",
    response_model=BundleReleaseOut,
    response_model_exclude_none=True,
    summary="Move the broadband anchor to another line of the owner, or cancel the broadband",
    responses=error_responses(*_COMMON, "NO_BUNDLE", "TARGET_LINE_INVALID", "VALIDATION_FAILED"),
)
def release_bundle(
    msisdn: str,
    body: BundleReleaseIn,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        out = bundles.release_bundle(ctx, msisdn, body.action, body.to_msisdn)
        return 200, out.as_dict()

    return run_idempotent(ctx, request, f"bundle:{msisdn}", body.model_dump(), work)


@router.post(
    "/{msisdn}/family/release",
    response_model=FamilyReleaseOut,
    response_model_exclude_none=True,
    summary="Remove every member of the family group, or hand the primary role to another line",
    responses=error_responses(
        *_COMMON, "NO_FAMILY_GROUP", "TARGET_LINE_INVALID", "VALIDATION_FAILED"
    ),
)
def release_family(
    msisdn: str,
    body: FamilyReleaseIn,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    """`rehome` needs `to_msisdn`: a member line of the same owner; the primary then leaves
    the group. Without such a line, `remove_members` is the remedy."""

    def work() -> tuple[int, Any]:
        out = bundles.release_family(ctx, msisdn, body.action, body.to_msisdn)
        return 200, out.as_dict()

    return run_idempotent(ctx, request, f"family:{msisdn}", body.model_dump(), work)


@router.post(
    "/{msisdn}/orders/{order_id}/cancel",
    response_model=OrderCancelOut,
    summary="Cancel a pending order in flight",
    responses=error_responses(*_COMMON, "ORDER_NOT_FOUND", "ORDER_NOT_OPEN"),
)
def cancel_order(
    msisdn: str,
    order_id: str,
    request: Request,
    ctx: UnitOfWork,
    claims: TokenClaims = Depends(require_line),
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        return 200, bundles.cancel_order(ctx, msisdn, order_id).as_dict()

    return run_idempotent(ctx, request, f"order-cancel:{msisdn}:{order_id}", {}, work)
