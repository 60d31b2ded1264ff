from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from xiaohu.kit.bounds import Instant


class ClockIn(BaseModel):
    now: Instant


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
