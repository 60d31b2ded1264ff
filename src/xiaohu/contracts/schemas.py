"""Request and response shapes of the contract endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict


class TerminationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None is "auto"; see `contracts.rules.PAY_WITH` for what each means.
    pay_with: Literal["auto", "balance", "balance_first", "payment"] | None = None


class PaidFromOut(BaseModel):
    cash_fen: int
    gift_fen: int
    payment_fen: int


class TerminationOut(BaseModel):
    contract_id: str
    penalty_fen: int
    paid_from: PaidFromOut
    payment_id: str | None
    status: Literal["terminated"]


class ContractOut(BaseModel):
    contract_id: str
    kind: str
    status: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    lifetime: bool
    in_term: bool
    remaining_months: int | None
    penalty_fen: int | None  # today's penalty; None for a lifetime term (complaint route)
    penalty_formula: str
    terminated_at: dt.datetime | None


class ContractsOut(BaseModel):
    msisdn: str
    contracts: list[ContractOut]
