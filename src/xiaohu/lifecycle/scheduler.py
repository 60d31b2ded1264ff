"""`xiaohu scheduler`: the daily lifecycle and the monthly cycle close, at their times.

Each tick reads the clock the runs use (`runtime.clock_for`: in sandbox mode the test clock,
so moving it a month ahead makes the next tick catch up day by day) and runs, oldest first:

- the close-cycle of every period that ended since the last one done (`job_runs`, job
  `close-cycle`, key the period; on a first start, the last period that ended), from 01:00
  Asia/Shanghai on the 1st of the next month;
- the lifecycle of every day since the last one done (job `lifecycle`, key the date; on a
  first start, today alone), from 01:00 Asia/Shanghai that day (`rules.RUN_AT`: one time for
  every province, no policy value moves it).

Order: on the 1st of a month the close-cycle of the month that ended comes before that day's
lifecycle. The close bills the month as it was at its end (a line active at the close pays the
plan fee; a month of arrears suspension pays nothing); a lifecycle run of the 1st first could
suspend, end the retention of, or cancel a line on a day of the next month, and the close would
then bill the month from a state the month never had. Days and periods are otherwise taken in
time order, and a tick stops at the first run that fails or is held elsewhere, so nothing runs
ahead of a run it should follow.

One scheduler at a time: the tick holds the job `scheduler` (a lease; a second scheduler's
tick is told JOB_RUNNING and skips), and each run holds its own job (`lifecycle`,
`close-cycle`) as a run started by hand does. A crash leaves the run `running` in `job_runs`;
the next tick runs that key again, which resumes after its last committed chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from xiaohu.cancellation.cycle import close_cycle_on_node
from xiaohu.kit.clock import period_bounds, start_of_day
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.lifecycle import rules
from xiaohu.lifecycle.run import lifecycle_on_node
from xiaohu.runtime import Runtime
from xiaohu.scheduling.service import holding, last_done

log = logging.getLogger(__name__)
CLOSE_CYCLE = "close-cycle"
LIFECYCLE = "lifecycle"
SCHEDULER = "scheduler"
Emit = Callable[[str], None]


def plan(runtime: Runtime) -> list[tuple[str, str]]:
    """The runs due now, in the order they run: (job, key)."""
    with transaction(runtime.sessions, readonly=True) as session:
        now = runtime.clock_for(session).now()
        day = next(iter(last_done(session, LIFECYCLE)), None)
        period = next(iter(last_done(session, CLOSE_CYCLE)), None)
    due: list[tuple[dt.datetime, int, str, str]] = []
    for d in rules.days_due(day, now):
        due.append((_at(d), 1, LIFECYCLE, d.isoformat()))
    for p in rules.periods_due(period, now):
        due.append((_at(period_bounds(p)[1]), 0, CLOSE_CYCLE, p))
    return [(job, key) for _, _, job, key in sorted(due)]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, rules.RUN_AT, tzinfo=start_of_day(day).tzinfo)


def tick(runtime: Runtime, *, show_progress: bool | None, emit: Emit) -> list[dict[str, Any]]:
    """Run what is due on every node, in order; the reports of the runs done. Each node keeps
    its own record of the runs done (and its own test clock), so a node that was down catches
    up on the next tick while the others go on. One node: the tick below as it is."""
    if not runtime.nodes.national:
        return tick_node(runtime, show_progress=show_progress, emit=emit)
    reports: list[dict[str, Any]] = []
    for rt in runtime.each_node():
        try:
            done = tick_node(rt, show_progress=show_progress, emit=_tagged(emit, rt.node))
        except Exception as exc:  # one node down holds back only its own runs
            log.exception("scheduler tick on node %s failed", rt.node)
            emit(f"[{rt.node}] tick failed: {type(exc).__name__}: {exc}")
            continue
        reports.extend({**r, "node": rt.node} for r in done)
    return reports


def _tagged(emit: Emit, node: str) -> Emit:
    return lambda line: emit(f"[{node}] {line}")


def tick_node(runtime: Runtime, *, show_progress: bool | None, emit: Emit) -> list[dict[str, Any]]:
    """Run what is due on the runtime's node, in order; the reports of the runs done. Held
    elsewhere: nothing."""
    reports: list[dict[str, Any]] = []
    try:
        with holding(runtime, SCHEDULER) as holder:
            for job, key in plan(runtime):
                with transaction(runtime.sessions) as session:
                    holder.renew(session)  # still ours between runs
                try:
                    report = run_job(runtime, job, key, show_progress=show_progress)
                except DomainError as exc:  # held by a run started by hand, or refused
                    emit(f"{job} {key}: skipped, {exc.code}: {exc.detail}")
                    break
                runtime.outbox_written()  # the delivery thread sends what the run wrote
                emit(f"{job} {key}: " + json.dumps(report, ensure_ascii=False, default=str))
                reports.append(report)
    except DomainError as exc:
        if exc.code != "JOB_RUNNING":
            raise
        emit("tick skipped: another scheduler holds it")
    return reports


def run_job(runtime: Runtime, job: str, key: str, *, show_progress: bool | None) -> dict[str, Any]:
    """One due run; each records its key as done in `job_runs` when it finishes."""
    if job == LIFECYCLE:
        return lifecycle_on_node(runtime, dt.date.fromisoformat(key), show_progress=show_progress)
    return close_cycle_on_node(runtime, key, show_progress=show_progress)


def run_scheduler(
    runtime: Runtime,
    *,
    interval: float,
    once: bool,
    show_progress: bool | None,
    emit: Emit,
    stop: threading.Event | None = None,
) -> None:
    """Tick every `interval` seconds until stopped (or once). A failing tick is logged and
    the next one tries again: a run that failed half-way resumes."""
    stop = stop or threading.Event()
    runtime.start_outbox_worker()  # delivers the runs' SMS and orders, retries failures
    try:
        while not stop.is_set():
            try:
                tick(runtime, show_progress=show_progress, emit=emit)
            except Exception as exc:
                log.exception("scheduler tick failed")
                emit(f"tick failed: {type(exc).__name__}: {exc}")
            if once:
                break
            stop.wait(interval)
    finally:
        runtime.stop_outbox_worker()  # finishes the batch under way
