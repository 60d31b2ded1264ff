"""Shapes of the store channel (API.md Part 2, "Cancellation at a store").

The documents are what the clerk holds in hand: the owner's ID original, and for a proxy
(代办) the agent's ID original and the letter of authorization. Which pieces are needed, and
whether the numbers are well formed, is decided by `counter.rules`, so a missing piece is
answered DOCUMENTS_MISSING naming every one at once rather than a schema error per field.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaohu.cancellation.quotes import MAX_LENGTH as QUOTE_ID_MAX_LENGTH
from xiaohu.cancellation.schemas import MSISDN, CancellationOut, CheckOut, RefundRouteIn
from xiaohu.kit.bounds import PositiveFen
from xiaohu.workorders.schemas import WorkOrderRef

IdTypeName = Literal[
    "resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_resident"
]


class PersonDocument(BaseModel):
    """An identity document's original, as read by the clerk."""

    model_config = ConfigDict(extra="forbid")

    id_type: IdTypeName
    id_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)


class Letter(BaseModel):
    """The owner's letter of authorization (授权委托书) for a proxy: its reference."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=64)


class Documents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: PersonDocument | None = None  # required: a missing owner is DOCUMENTS_MISSING
    agent: PersonDocument | None = None
    authorization_letter: Letter | None = None


class StoreCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(pattern=MSISDN)
    documents: Documents


class StorePaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(pattern=MSISDN)
    amount_fen: PositiveFen
    method: Literal["cash", "card"]


class StoreCancellationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(pattern=MSISDN)
    quote_id: str = Field(min_length=1, max_length=QUOTE_ID_MAX_LENGTH)
    documents: Documents
    refund_route: RefundRouteIn = RefundRouteIn(kind="cash")
    acknowledged_warnings: list[str] = Field(default_factory=list, max_length=20)


class DocumentsIn(BaseModel):
    """The body of a counter action on a line, and of a reversal at a store."""

    model_config = ConfigDict(extra="forbid")

    documents: Documents


class ReversalIn(BaseModel):
    """The reversal's body: the documents at a store; none (or no body) with a line token."""

    model_config = ConfigDict(extra="forbid")

    documents: Documents | None = None


class StoreCheckOut(CheckOut):
    channel: Literal["store"] = "store"
    store_code: str
    home_province: str
    handling_province: str
    cross_region: bool
    review_required: bool
    review_reasons: list[str] = Field(
        default_factory=list, description="fraud_stop | lifetime_term | cross_region"
    )


class StoreCancellationOut(CancellationOut):
    channel: str
    store_code: str | None
    home_province: str
    handling_province: str
    cross_region: bool
    # 202: the home province's back office decides (`status` "pending_review")
    review_reasons: list[str] | None = None
    work_order: WorkOrderRef | None = None


class CounterActionOut(BaseModel):
    """A line after a counter action (a lost state lifted, real name registered)."""

    msisdn: str
    status: str
    real_name_verified: bool
    version: int


class MovementOut(BaseModel):
    at: dt.datetime
    kind: str  # payment.received | cancellation.refund | ...
    msisdn_masked: str | None
    amount_fen: int  # in: positive, out: negative
    reference: str | None


class DrawerReportOut(BaseModel):
    """A store drawer's day (Asia/Shanghai): opening, what came in and went out, closing, and
    the ledger account's own balance at the day's end, which the closing must equal."""

    store_code: str
    date: dt.date
    opening_fen: int
    cash_in_fen: int
    cash_out_fen: int
    closing_fen: int
    ledger_balance_fen: int
    reconciled: bool
    movements: list[MovementOut]
