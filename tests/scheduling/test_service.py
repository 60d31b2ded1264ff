"""Holding a job (one process at a time) and resuming a run after the last committed chunk."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Runtime
from xiaohu.scheduling import service
from xiaohu.scheduling.models import JobLock, JobRun
from xiaohu.scheduling.service import Holder, LeaseLost, holding, last_done

AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


def _run(runtime: Runtime, job: str, key: str) -> JobRun:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(JobRun).where(JobRun.job == job, JobRun.key == key)).one()


def test_a_second_holder_of_the_same_job_is_refused_and_another_job_is_not(
    runtime: Runtime,
) -> None:
    with holding(runtime, "lifecycle"):
        with pytest.raises(DomainError) as refused, holding(runtime, "lifecycle"):
            pass
        assert refused.value.code == "JOB_RUNNING"
        with holding(runtime, "close-cycle"):
            pass
    with holding(runtime, "lifecycle"):  # released at the end of the block
        pass


def _chunks(holder: Holder, runtime: Runtime, ids: list[int], *, fail_at: int | None) -> None:
    start = int(holder.cursor) if holder.cursor else 0
    for i in ids:
        if i <= start:
            continue
        if i == fail_at:
            raise RuntimeError("killed")
        with transaction(runtime.sessions) as session:
            done = dict(holder.report)
            done["chunks"] = int(done.get("chunks", 0)) + 1
            holder.advance(session, str(i), done, AT)


def test_an_interrupted_run_resumes_after_its_last_committed_chunk(runtime: Runtime) -> None:
    ids = [1, 2, 3, 4, 5]
    with pytest.raises(RuntimeError), holding(runtime, "close-cycle") as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, "2026-11", AT)
        _chunks(holder, runtime, ids, fail_at=4)
    run = _run(runtime, "close-cycle", "2026-11")
    assert (run.status, run.cursor, run.report) == ("running", "3", {"chunks": 3})

    with holding(runtime, "close-cycle") as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, "2026-11", AT)
        assert holder.resumed and holder.cursor == "3"
        _chunks(holder, runtime, ids, fail_at=None)
        with transaction(runtime.sessions) as session:
            holder.finish(session, holder.report, AT)
    run = _run(runtime, "close-cycle", "2026-11")
    assert (run.status, run.report, run.runs) == ("done", {"chunks": 5}, 2)
    with transaction(runtime.sessions) as session:
        assert last_done(session, "close-cycle") == ["2026-11"]

    # A finished key runs again from the start (what it finds to do is up to the run); the
    # record keeps what all its passes did together.
    with holding(runtime, "close-cycle") as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, "2026-11", AT)
        assert not holder.resumed and holder.cursor is None and holder.report == {}
        with transaction(runtime.sessions) as session:
            holder.finish(session, {"chunks": 0, "period": "2026-11", "resumed": False}, AT)
    run = _run(runtime, "close-cycle", "2026-11")
    assert run.report == {"chunks": 5, "period": "2026-11", "resumed": False}
    with holding(runtime, "close-cycle") as holder, transaction(runtime.sessions) as session:
        holder.start(session, "2026-11", AT)
        holder.finish(session, {"chunks": 2}, AT)
    assert _run(runtime, "close-cycle", "2026-11").report["chunks"] == 7


def test_a_holder_whose_lease_was_taken_over_cannot_commit_a_chunk(runtime: Runtime) -> None:
    with holding(runtime, "lifecycle") as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, "2026-12-01", AT)
        with transaction(runtime.sessions) as session:  # another process took it over
            session.execute(update(JobLock).values(holder="elsewhere:1:x"))
        with pytest.raises(LeaseLost), transaction(runtime.sessions) as session:
            holder.advance(session, "10", {"n": 1}, AT)
    assert _run(runtime, "lifecycle", "2026-12-01").cursor is None


def test_an_expired_lease_or_a_dead_local_holder_is_taken_over(runtime: Runtime) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)
    alive_elsewhere = "another-host:1:abc"
    now = runtime.system_clock.now()
    for holder, until, free in [
        (f"{service._HOST}:{dead_pid}:abc", now + dt.timedelta(minutes=5), True),
        (alive_elsewhere, now + dt.timedelta(minutes=5), False),
        (alive_elsewhere, now - dt.timedelta(seconds=1), True),
        (f"{service._HOST}:{os.getppid()}:abc", now + dt.timedelta(minutes=5), False),
    ]:
        with transaction(runtime.sessions) as session:
            session.merge(JobLock(job="lifecycle", holder=holder, until=until))
        if free:
            with holding(runtime, "lifecycle"):
                pass
        else:
            with pytest.raises(DomainError), holding(runtime, "lifecycle"):
                pass


def test_the_operations_api_lists_runs_and_locks(runtime: Runtime, client: TestClient) -> None:
    with holding(runtime, "lifecycle") as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, "2026-12-01", AT)
            holder.advance(session, "42", {"suspended": 3}, AT)
        body = client.get("/api/v1/admin/runs", params={"job": "lifecycle"}).json()
    (run,) = body["runs"]
    assert (run["key"], run["status"], run["cursor"], run["report"]) == (
        "2026-12-01",
        "running",
        "42",
        {"suspended": 3},
    )
    assert [lock["job"] for lock in body["locks"]] == ["lifecycle"]
    assert body["locks"][0]["holder"].endswith(holder.name.rsplit(":", 1)[1])
    r = client.get("/api/v1/admin/runs", params={"limit": 0})
    assert r.status_code == 422, r.text
