"""Shapes of the ID lookup (一证通查). Apart from `schemas.py` (the line view's)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class IdLookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="the owner's exact name")
    id_number: str = Field(min_length=1, max_length=40, description="the owner's full ID number")


class LookupLine(BaseModel):
    msisdn_masked: str = Field(examples=["138****0001"])
    home_province: str = Field(examples=["11"])
    status: str = Field(examples=["active"])
    opened_on: dt.date | None


class IdLookupOut(BaseModel):
    lines: list[LookupLine]
