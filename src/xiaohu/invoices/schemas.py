"""Response shapes of the invoice endpoints (public contract: API.md, "Cross-region work")."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class InvoiceOut(BaseModel):
    number: str = Field(
        examples=["26321000000000000001"],
        description="20 digits: year, issuing province, channel, sequence of that year",
    )
    kind: Literal["blue", "red"]
    issuer_province: str = Field(examples=["32"], description="the line's home province")
    amount_fen: int = Field(
        description="tax-inclusive, positive for both kinds: a red invoice takes it back"
    )
    issued_at: dt.datetime
    original_number: str | None = Field(
        description="a red invoice's blue original; a reissued blue invoice's red one"
    )


class InvoicesOut(BaseModel):
    invoices: list[InvoiceOut]
