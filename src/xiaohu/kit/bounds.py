"""The value bounds every request schema shares: money, instants and periods.

Why bounds at all: an amount of 2^63 fen or a clock at year 9999 is not a request anyone
means, and left unbounded it overflows a BIGINT column or a date computation deep inside a
use case (a 500). Refused at the edge instead, with a 422 naming the field, and the OpenAPI
document shows the limits.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictInt

MAX_FEN = 10**11  # ¥1,000,000,000: above any real payment, usage record or balance
MIN_YEAR, MAX_YEAR = 2000, 2099  # the years the service runs in: clocks, usage, periods

PERIOD_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"  # YYYY-MM within MIN_YEAR..MAX_YEAR


def is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9. `str.isdigit`, `int()` and the regex `\\d` also take
    full-width (２０２７) and Arabic-Indic (٢٠٢٧) digits, which no number, code or period here
    is written in; echoed back or stored, they would not match the ASCII form."""
    return text.isascii() and text.isdigit()


def _in_years(value: dt.datetime) -> dt.datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def _integral(value: object) -> object:
    """21850.0 is the integer 21850 in JSON (and in the JSON Schema `integer` the document
    shows): taken as such; 21850.5, strings and booleans are still refused."""
    return int(value) if type(value) is float and value.is_integer() else value


PositiveFen = Annotated[
    StrictInt,
    Field(gt=0, le=MAX_FEN, description=f"integer fen (分), 1 to {MAX_FEN}"),
    BeforeValidator(_integral),  # after Field, so the document keeps its bounds
]
Instant = Annotated[
    AwareDatetime,
    AfterValidator(_in_years),
    Field(
        description=f"ISO 8601 with offset, years {MIN_YEAR} to {MAX_YEAR}",
        json_schema_extra={"pattern": r"^20[0-9]{2}-"},  # the years, for the document
    ),
]
