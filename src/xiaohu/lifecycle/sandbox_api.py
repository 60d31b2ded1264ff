"""Sandbox run of the daily lifecycle (same as `xiaohu run lifecycle --date`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from xiaohu.http import runtime_of
from xiaohu.kit.errors import error_responses
from xiaohu.lifecycle.run import deliver_all, run_lifecycle

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(description="the day to run, YYYY-MM-DD", examples=["2027-01-16"])

    @field_validator("date", mode="before")
    @classmethod
    def _calendar_day(cls, value: object) -> object:
        """A day as the contract writes it, nothing looser (a timestamp, a number, 20270116)."""
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError("must be a date YYYY-MM-DD")
        return value


class LifecycleOut(BaseModel):
    date: dt.date
    suspended: int
    warned: int
    cancelled: int
    released: int
    retention_ended: int
    arrears_started: int = Field(description="retained lines whose arrears clock started")
    written_off_fen: int
    refunded_fen: int
    resumed: bool = Field(description="this run continued one a crash interrupted")


@router.post(
    "/runs/lifecycle",
    response_model=LifecycleOut,
    summary="Run the daily lifecycle for a day now (same as `xiaohu run lifecycle`)",
    responses=error_responses("JOB_RUNNING", "VALIDATION_FAILED"),
)
def lifecycle(body: DateIn, request: Request) -> dict[str, Any]:
    # No unit of work here: the run owns its transactions (one per range of lines).
    runtime = runtime_of(request)
    report = run_lifecycle(runtime, body.date, show_progress=False)
    deliver_all(runtime)
    return report
