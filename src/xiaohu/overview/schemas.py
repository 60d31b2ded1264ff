"""What a subscriber sees of their line. Identity data appears masked only."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from xiaohu.retention.schemas import RetentionView


class HomeOut(BaseModel):
    province_code: str = Field(examples=["11"])
    province: str = Field(examples=["北京"])
    city: str | None = Field(examples=["北京"])


class PlanOut(BaseModel):
    code: str
    name: str
    monthly_fee_fen: int


class BalanceOut(BaseModel):
    cash_fen: int
    gift_fen: int


class OwnerOut(BaseModel):
    name_masked: str = Field(examples=["*三"])
    id_number_masked: str = Field(examples=["110101********803X"])
    id_type: str = Field(examples=["resident_id"])


class ContractOut(BaseModel):
    id: str
    kind: str
    starts_on: dt.date | None
    ends_on: dt.date | None = Field(description="null: a lifetime term")
    status: str


class BundleOut(BaseModel):
    id: str
    role: str = Field(description="anchor | member")
    status: str


class FamilyOut(BaseModel):
    group_id: str
    role: str = Field(description="primary | member")


class PendingOrderOut(BaseModel):
    id: str
    kind: str


class LineView(BaseModel):
    msisdn: str
    status: str
    status_reason: str | None = None
    home: HomeOut
    plan: PlanOut
    balance: BalanceOut
    owner: OwnerOut
    arrears_fen: int
    opened_on: dt.date | None
    real_name_verified: bool
    contracts: list[ContractOut] = []
    bundle: BundleOut | None = None
    family: FamilyOut | None = None
    pending_orders: list[PendingOrderOut] = []
    bank_collection_pending: bool = False
    arrears_since: dt.date | None = Field(
        None, description="the day the arrears clock started (suspension, or an overdue fee)"
    )
    retention: RetentionView | None = Field(
        None, description="a retained line's retention (停机保号); null otherwise"
    )


class AuditEventOut(BaseModel):
    action: str
    occurred_at: dt.datetime
    actor: str = Field(
        examples=["clerk:gz.wang"],
        description="`subscriber`, `<role>:<login>` for staff, or the system's name",
    )
    actor_kind: Literal["subscriber", "staff", "system"] = Field(examples=["staff"])
    staff_login: str | None = Field(None, examples=["gz.wang"], description="staff only")
    data: dict[str, Any]


class LineAuditOut(BaseModel):
    msisdn: str
    events: list[AuditEventOut]
