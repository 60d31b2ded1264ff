"""Job locks (one holder of a job at a time) and job runs (how far a run got)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaohu.kit.db import Base, BigId, JsonDoc, UTCDateTime


class JobLock(Base):
    """A lease on a job: whoever holds an unexpired lease runs it; a crashed holder's lease
    runs out and the next claimant takes over. Times here are real time, never the sandbox's
    test clock: a lease is about processes being alive."""

    __tablename__ = "job_locks"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(80))
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a job for one key (a period, a date): `running` with the cursor of the last
    committed chunk (a crash resumes after it), or `done`."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))  # running | done
    cursor: Mapped[str | None] = mapped_column(String(100))
    report: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(default=1)  # how many times it was started
