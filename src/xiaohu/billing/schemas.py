"""Request and response shapes of the billing endpoints (public contract: API.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from xiaohu.kit.bounds import PositiveFen


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: PositiveFen  # at most kit.bounds.MAX_FEN


class AppliedOut(BaseModel):
    period: str
    amount_fen: int


class PaymentOut(BaseModel):
    payment_id: str
    applied: list[AppliedOut]
    cash_balance_fen: int


class BillOut(BaseModel):
    period: str
    kind: str
    amount_fen: int
    paid_fen: int
    due_on: str | None
    status: str


class BillsOut(BaseModel):
    msisdn: str
    bills: list[BillOut]
    arrears_fen: int
