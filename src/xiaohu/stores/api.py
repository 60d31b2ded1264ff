"""Where a person can go: the store directory, open to anyone (no token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from xiaohu.http import UnitOfWork
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.regions.provinces import PROVINCES
from xiaohu.stores import service
from xiaohu.stores.service import LIST_CAP

router = APIRouter(prefix="/api/v1", tags=["stores"])


class StoreOut(BaseModel):
    code: str = Field(examples=["44-GZ-0001"])
    name: str = Field(examples=["广州天河营业厅"])
    province_code: str = Field(examples=["44"])
    city: str = Field(examples=["广州"])
    kind: str = Field(description="own_flagship | own_standard | partner")
    can_cancel: bool = Field(description="its province's policy lets this kind of store cancel")


class StoresOut(BaseModel):
    stores: list[StoreOut]
    truncated: bool = Field(
        False, description=f"more stores match than the {LIST_CAP} listed (nearest first)"
    )


@router.get(
    "/stores",
    response_model=StoresOut,
    summary="Stores, nearest first: where a person can go",
    description=(
        "Filters are optional. `city` ranks rather than excludes: that city's stores first, "
        "then the rest (flagships before standard halls, then by code). `can_cancel=true` "
        "keeps the stores whose kind the province's policy lets cancel a line. At most "
        f"{LIST_CAP} stores (`truncated` says when there are more). No token needed."
    ),
    responses=error_responses("VALIDATION_FAILED"),
)
def list_stores(
    ctx: UnitOfWork,
    province_code: Annotated[
        str | None, Query(description="GB/T 2260 two-digit province code", examples=["44"])
    ] = None,
    city: Annotated[str | None, Query(max_length=40, examples=["广州"])] = None,
    can_cancel: Annotated[bool | None, Query(description="only stores that may cancel")] = None,
) -> StoresOut:
    if province_code is not None and province_code not in PROVINCES:
        raise DomainError(
            "VALIDATION_FAILED",
            f"province_code: unknown province {province_code!r} (GB/T 2260 two-digit code)",
            errors=[{"field": "province_code", "reason": "unknown province (GB/T 2260)"}],
        )
    stores, truncated = service.listing(
        ctx, province_code=province_code, city=city or None, can_cancel=can_cancel
    )
    return StoresOut(stores=[StoreOut(**s) for s in stores], truncated=truncated)
