"""Shapes of the cancellation check, the cancellation and its reversal (API.md "Cancellation")."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import JsonDict
from stdnum import luhn

from xiaohu.cancellation.quotes import MAX_LENGTH as QUOTE_ID_MAX_LENGTH

MSISDN = r"^1[0-9]{10}$"


class Remedy(BaseModel):
    """What the subscriber can do about a blocker; `href` is an API path where one exists."""

    model_config = ConfigDict(extra="allow")

    action: str
    method: str | None = None
    href: str | None = None


class NoticeOut(BaseModel):
    """A blocker or a warning. Extra fields (contract_id, order_id, details) may follow."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    message_en: str
    amount_fen: int | None = None
    ends_on: dt.date | None = None
    remedy: Remedy | None = None


class ChargeOut(BaseModel):
    item: str
    amount_fen: int


class QuoteOut(BaseModel):
    quote_id: str
    valid_until: dt.datetime
    final_charges: list[ChargeOut]
    cash_balance_fen: int
    gift_balance_fen: int
    charges_fen: int
    penalties_fen: int
    gift_applied_fen: int
    refund_fen: int
    refund_now_fen: int
    reserve_fen: int
    forfeited_fen: int


class CheckOut(BaseModel):
    eligible: bool
    blockers: list[NoticeOut]
    warnings: list[NoticeOut]
    quote: QuoteOut | None


class RealNameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=40)


CARD_PATTERN = r"^(?:[0-9] ?){11,18}[0-9]$"  # what `_card_number` takes, but the Luhn rule


def _needs_when(kind: str, field: str) -> JsonDict:
    return {
        "if": {"properties": {"kind": {"const": kind}}},
        "then": {"required": [field], "properties": {field: {"type": "string"}}},
    }


class RefundRouteIn(BaseModel):
    # `_needs` below, said in the document too.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [_needs_when("bank_card", "account"), _needs_when("transfer", "to_msisdn")]
        },
    )

    # cash: handed over from a store's drawer, on the store channel only (elsewhere the
    # service answers REFUND_ROUTE_INVALID)
    kind: Literal["original", "bank_card", "transfer", "cash"]
    account: str | None = Field(
        None,
        max_length=100,
        description="bank_card: the card number, 12 to 19 digits (single spaces between groups "
        "allowed) whose last digit is the Luhn check digit of the others",
        json_schema_extra={"pattern": CARD_PATTERN},  # checked by `_card_number` below
    )
    to_msisdn: str | None = Field(None, pattern=MSISDN, description="transfer: the other line")

    @field_validator("account")
    @classmethod
    def _card_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A bank card number: 12 to 19 digits (spaces between groups allowed) passing the
        Luhn check digit, which catches a mistyped digit before a refund goes astray."""
        if value is None or info.data.get("kind") != "bank_card":
            return value
        digits = value.replace(" ", "")
        if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
            raise ValueError("a bank card number is 12 to 19 digits")
        if not luhn.is_valid(digits):
            raise ValueError("the card number's check digit is wrong (Luhn)")
        return digits

    @model_validator(mode="after")
    def _needs(self) -> RefundRouteIn:
        if self.kind == "bank_card" and not self.account:
            raise ValueError("a bank_card refund needs `account`")
        if self.kind == "transfer" and not self.to_msisdn:
            raise ValueError("a transfer refund needs `to_msisdn`")
        return self


class CancellationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(pattern=MSISDN)
    quote_id: str = Field(min_length=1, max_length=QUOTE_ID_MAX_LENGTH)
    real_name: RealNameIn
    refund_route: RefundRouteIn = RefundRouteIn(kind="original")
    acknowledged_warnings: list[str] = Field(default_factory=list, max_length=20)


class RefundOut(BaseModel):
    refund_now_fen: int
    reserve_fen: int
    route: dict[str, Any]
    # The refund now: pending until the payment gateway confirms the payout, then paid;
    # failed when the payout gave up (an operator sends it again). None: nothing refunded now.
    status: str | None = None


class SettlementOut(BaseModel):
    trued_up_fen: int
    late_usage_fen: int
    shortfall_fen: int
    closed_at: dt.datetime


class CancellationOut(BaseModel):
    id: str
    reference: str
    msisdn: str
    status: str  # cancelled | reversed
    account_status: str  # settling | closed | reversed
    cancelled_at: dt.datetime
    undo_until: dt.datetime
    reversed_at: dt.datetime | None = None
    final_charges: list[ChargeOut]
    charges_fen: int
    forfeited_fen: int
    refund: RefundOut
    settlement: SettlementOut | None = None
    receipt_url: str
