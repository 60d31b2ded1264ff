from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel


class ClockIn(BaseModel):
    now: AwareDatetime


class ClockOut(BaseModel):
    now: dt.datetime
    pinned: bool


class SmsOut(BaseModel):
    to: str
    text: str
    kind: str
    sent_at: dt.datetime


class SmsList(BaseModel):
    messages: list[SmsOut]
