"""Holding a job, and remembering how far a run of it got.

Why both: the scheduler may run on several machines, and an operator may start a run by hand
while the scheduler runs it too. `holding(runtime, job)` gives the job to one process at a
time (a lease in `job_locks`, renewed by every chunk the run commits); a second claimant is
told `JOB_RUNNING`. A run works in chunks, each its own transaction, and records its cursor in
`job_runs` inside that same transaction (`Holder.advance`): killed mid-way, the next run of the
same key starts after the last chunk that committed. A finished run is `done`; running the key
again starts a fresh pass, which finds nothing left to do (each run's writes are guarded by the
data: a bill exists, a line is already suspended), so every run is safe to repeat.

Leases use real time (`runtime.system_clock`), never the sandbox's test clock: they are about
processes being alive. A holder on this machine whose process is gone is noticed at once (its
pid); one on another machine when its lease runs out.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from xiaohu.kit.db import insert_missing, transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id
from xiaohu.runtime import Runtime
from xiaohu.scheduling.models import JobLock, JobRun

LEASE = dt.timedelta(minutes=2)
_LOCKS: Table = JobLock.__table__  # type: ignore[assignment]
_HOST = socket.gethostname()[:40]


class LeaseLost(RuntimeError):
    """Another process took the job over (this one's lease ran out): the chunk rolls back."""


@dataclass
class Holder:
    """This process's hold on `job`; `start` a run of one key, `advance` after each chunk (in
    the chunk's transaction), `finish` at the end."""

    runtime: Runtime
    job: str
    name: str
    lease: dt.timedelta = LEASE
    key: str | None = None
    cursor: str | None = None  # where the run resumes: after this (None: from the start)
    report: dict[str, Any] = field(default_factory=dict)  # counts so far, of this run
    resumed: bool = False
    earlier: dict[str, Any] | None = None  # what earlier passes of a done key did

    def start(self, session: Session, key: str, at: dt.datetime) -> None:
        """Begin the run of `key`, or resume the one a crash interrupted (its cursor and its
        counts so far)."""
        run = session.scalars(
            select(JobRun).where(JobRun.job == self.job, JobRun.key == key).with_for_update()
        ).one_or_none()
        self.key = key
        if run is None:
            session.add(
                JobRun(
                    job=self.job,
                    key=key,
                    status="running",
                    cursor=None,
                    report={},
                    started_at=at,
                    updated_at=at,
                    runs=1,
                )
            )
            self.cursor, self.report, self.resumed = None, {}, False
        elif run.status == "running":
            run.runs += 1
            run.updated_at = at
            self.cursor, self.report, self.resumed = run.cursor, dict(run.report), True
        else:  # done before: a fresh pass, whose counts add to the earlier passes' at the end
            self.earlier = dict(run.report)
            run.status, run.cursor, run.updated_at, run.finished_at = "running", None, at, None
            run.runs += 1
            self.cursor, self.report, self.resumed = None, {}, False
        self.renew(session)
        session.flush()

    def advance(
        self, session: Session, cursor: str, report: dict[str, Any], at: dt.datetime
    ) -> None:
        """Record in the chunk's own transaction that the run got past `cursor`; renew the
        lease, or raise `LeaseLost` (rolling the chunk back) if another process holds it."""
        self.renew(session)
        self._write(session, status="running", cursor=cursor, report=report, at=at)
        self.cursor, self.report = cursor, dict(report)

    def finish(self, session: Session, report: dict[str, Any], at: dt.datetime) -> None:
        """The run is done; `job_runs` keeps what every pass of this key did together (a
        repeat that found nothing leaves the first pass's counts as they were)."""
        self.renew(session)
        total = _added(self.earlier, report) if self.earlier is not None else report
        self._write(session, status="done", cursor=None, report=total, at=at, finished=True)
        self.report = dict(report)

    def renew(self, session: Session) -> None:
        now = self.runtime.system_clock.now()
        done = session.execute(
            update(JobLock)
            .where(JobLock.job == self.job, JobLock.holder == self.name)
            .values(until=now + self.lease)
            .execution_options(synchronize_session=False)
        )
        if not getattr(done, "rowcount", 0):
            raise LeaseLost(f"job {self.job}: another process holds it now")

    def _write(
        self,
        session: Session,
        *,
        status: str,
        cursor: str | None,
        report: dict[str, Any],
        at: dt.datetime,
        finished: bool = False,
    ) -> None:
        if self.key is None:
            raise RuntimeError("start a run before advancing it")
        values: dict[str, Any] = {
            "status": status,
            "cursor": cursor,
            "report": report,
            "updated_at": at,
        }
        if finished:
            values["finished_at"] = at
        session.execute(
            update(JobRun)
            .where(JobRun.job == self.job, JobRun.key == self.key)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _added(earlier: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """Counts added up (integers, not flags); anything else as the latest pass says."""
    total = {**earlier, **now}
    for name, value in now.items():
        before = earlier.get(name)
        if _count(value) and _count(before):
            total[name] = before + value
    return total


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@contextmanager
def holding(runtime: Runtime, job: str, *, lease: dt.timedelta = LEASE) -> Iterator[Holder]:
    """Hold `job` for the block: `JOB_RUNNING` (409) when another live process holds it."""
    name = f"{_HOST}:{os.getpid()}:{new_id()[:8]}"
    if not _take(runtime, job, name, lease):
        raise DomainError("JOB_RUNNING", f"job {job} is running in another process")
    try:
        yield Holder(runtime, job, name, lease)
    finally:
        with transaction(runtime.sessions) as session:
            session.execute(
                update(JobLock)
                .where(JobLock.job == job, JobLock.holder == name)
                .values(holder=None, until=None)
                .execution_options(synchronize_session=False)
            )


def _take(runtime: Runtime, job: str, name: str, lease: dt.timedelta) -> bool:
    now = runtime.system_clock.now()
    with transaction(runtime.sessions) as session:
        insert_missing(session, _LOCKS, {"job": job}, key=["job"])  # the row, once
        lock = session.scalars(select(JobLock).where(JobLock.job == job).with_for_update()).one()
        free = lock.holder is None or lock.until is None or lock.until <= now or _gone(lock.holder)
        if not free:
            return False
        lock.holder, lock.until = name, now + lease
        return True


def _gone(holder: str) -> bool:
    """Whether the holder ran on this machine in a process that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this very process: another holding of it is still open
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def last_done(session: Session, job: str) -> list[str]:
    """The keys of `job` whose runs finished, newest first (the scheduler catches up from the
    newest)."""
    return list(
        session.scalars(
            select(JobRun.key)
            .where(JobRun.job == job, JobRun.status == "done")
            .order_by(JobRun.key.desc())
            .limit(400)
        )
    )


def runs(session: Session, *, job: str | None, limit: int) -> tuple[list[JobRun], list[JobLock]]:
    """The runs (of one job, or all), newest key first, and every job's lock."""
    stmt = select(JobRun).order_by(JobRun.key.desc(), JobRun.job).limit(limit)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    return list(session.scalars(stmt)), list(session.scalars(select(JobLock).order_by(JobLock.job)))
