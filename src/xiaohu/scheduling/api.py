"""What the scheduled jobs did: each run's key, status, cursor and counts, and who holds a job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import error_responses
from xiaohu.scheduling import service
from xiaohu.scheduling.schemas import JobLockOut, JobRunOut, RunsOut

router = APIRouter(
    prefix="/api/v1/admin/runs",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get(
    "",
    response_model=RunsOut,
    summary="The runs of the scheduled jobs, newest key first, and who holds each job now",
    description=(
        "A run is `running` (in progress, or interrupted: the next run of its key resumes "
        "after `cursor`) or `done`; `report` holds its counts (so far). `locks`: the process "
        "holding each job and until when its lease lasts (real time)."
    ),
)
def list_runs(
    ctx: UnitOfWork,
    job: Annotated[str | None, Query(max_length=40, description="one job's runs")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> RunsOut:
    runs, locks = service.runs(ctx.session, job=job, limit=limit)
    return RunsOut(
        runs=[JobRunOut.model_validate(r, from_attributes=True) for r in runs],
        locks=[JobLockOut.model_validate(lock, from_attributes=True) for lock in locks],
    )
