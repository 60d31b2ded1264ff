"""The runs of scheduled jobs as the operations API shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class JobRunOut(BaseModel):
    job: str = Field(examples=["lifecycle"])
    key: str = Field(examples=["2026-12-01"], description="the date or period the run is for")
    status: str = Field(examples=["done"], description="`running` or `done`")
    cursor: str | None = Field(description="where an interrupted run resumes (after it)")
    report: dict[str, Any]
    runs: int = Field(description="how many times this key was started")
    started_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None


class JobLockOut(BaseModel):
    job: str
    holder: str | None = Field(description="host:pid:tag of the process holding the job")
    until: dt.datetime | None = Field(description="when its lease runs out unless renewed")


class RunsOut(BaseModel):
    runs: list[JobRunOut]
    locks: list[JobLockOut]
