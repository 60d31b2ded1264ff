"""The scheduler's timetable and ticks on the test clock: catching up day by day, the close of
a month before the lifecycle of the next month's 1st, one scheduler at a time."""

from __future__ import annotations

import datetime as dt

from tests.factories import line_record, load
from tests.lifecycle.support import bill, line, outbox
from xiaohu.kit.clock import SHANGHAI
from xiaohu.kit.db import transaction
from xiaohu.lifecycle import rules
from xiaohu.lifecycle.scheduler import plan, tick
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock
from xiaohu.scheduling.service import holding, last_done

D = dt.date


def _at(runtime: Runtime, when: dt.datetime) -> None:
    with transaction(runtime.sessions) as session:
        set_clock(session, when)


def _done(runtime: Runtime, job: str, key: str) -> None:
    at = runtime.system_clock.now()
    with holding(runtime, job) as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, key, at)
        with transaction(runtime.sessions) as session:
            holder.finish(session, {}, at)


def test_months_and_days() -> None:
    assert rules.add_months(D(2026, 11, 30), 3) == D(2027, 2, 28)
    assert rules.add_months(D(2027, 1, 31), -2) == D(2026, 11, 30)
    assert rules.latest_start(D(2027, 2, 28), 3) == D(2026, 11, 30)
    assert rules.latest_start(D(2027, 2, 26), 3) == D(2026, 11, 26)
    assert rules.due_offsets(D(2027, 2, 26), D(2027, 2, 20), [30, 7, 1]) == [7, 30]
    assert rules.to_send([7, 30], []) == ([7, 30], True)
    assert rules.to_send([1, 7, 30], [7, 30]) == ([1], True)
    assert rules.to_send([7, 30], [7, 30]) == ([], False)
    early = dt.datetime(2026, 12, 1, 0, 30, tzinfo=SHANGHAI)
    assert rules.days_due("2026-11-29", early) == [D(2026, 11, 30)]
    assert rules.periods_due("2026-10", early) == []
    assert rules.periods_due("2026-10", early + dt.timedelta(hours=1)) == ["2026-11"]
    assert rules.periods_due(None, early) == ["2026-10"]


def test_the_plan_closes_a_month_before_the_lifecycle_of_the_next_first(runtime: Runtime) -> None:
    _at(runtime, dt.datetime(2026, 11, 26, 10, tzinfo=SHANGHAI))
    assert plan(runtime) == [("close-cycle", "2026-10"), ("lifecycle", "2026-11-26")]
    _done(runtime, "lifecycle", "2026-11-29")
    _done(runtime, "close-cycle", "2026-10")
    _at(runtime, dt.datetime(2026, 12, 1, 2, tzinfo=SHANGHAI))
    assert plan(runtime) == [
        ("lifecycle", "2026-11-30"),
        ("close-cycle", "2026-11"),
        ("lifecycle", "2026-12-01"),
    ]


def test_ticks_catch_up_day_by_day_and_then_do_nothing(runtime: Runtime, ctx: Context) -> None:
    (debtor,) = load(
        ctx, line_record(balance={"cash_fen": 0, "gift_fen": 0}, unpaid_bills=[bill("2026-11-25")])
    )
    ctx.session.commit()
    lines: list[str] = []
    _at(runtime, dt.datetime(2026, 11, 24, 10, tzinfo=SHANGHAI))
    assert [
        r.get("date", r.get("period"))
        for r in tick(runtime, show_progress=False, emit=lines.append)
    ] == [
        "2026-10",
        "2026-11-24",
    ]
    _at(runtime, dt.datetime(2026, 11, 28, 10, tzinfo=SHANGHAI))
    reports = tick(runtime, show_progress=False, emit=lines.append)
    assert [r["date"] for r in reports] == ["2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"]
    assert [r["suspended"] for r in reports] == [0, 1, 0, 0]
    assert line(runtime, debtor.msisdn).arrears_since == D(2026, 11, 26)
    assert tick(runtime, show_progress=False, emit=lines.append) == []
    assert len(lines) == 6  # one line a run
    with transaction(runtime.sessions) as session:
        assert last_done(session, "lifecycle")[0] == "2026-11-28"
        assert last_done(session, "close-cycle") == ["2026-10"]


def test_a_second_scheduler_skips_the_tick(runtime: Runtime) -> None:
    _at(runtime, dt.datetime(2026, 11, 24, 10, tzinfo=SHANGHAI))
    lines: list[str] = []
    with holding(runtime, "scheduler"):
        assert tick(runtime, show_progress=False, emit=lines.append) == []
    assert lines == ["tick skipped: another scheduler holds it"]


def test_catching_up_sends_no_warning_for_a_day_gone_by_only_todays_nearest(
    runtime: Runtime, ctx: Context
) -> None:
    """Suspended on 26 November (Beijing: cancelled on 26 February, warned 30, 7 and 1 days
    before). The scheduler pauses from 20 January to 24 February: the days it catches up on
    are past, their warnings would arrive late; the run of the 24th sends the 7-day one (the
    nearest still ahead) once, and the 1-day one follows on its own day."""
    (debtor,) = load(
        ctx, line_record(balance={"cash_fen": 0, "gift_fen": 0}, unpaid_bills=[bill("2026-11-25")])
    )
    ctx.session.commit()
    for when in (D(2026, 11, 24), D(2026, 11, 26), D(2027, 1, 20), D(2027, 2, 24)):
        _at(runtime, dt.datetime.combine(when, dt.time(10), tzinfo=SHANGHAI))
        tick(runtime, show_progress=False, emit=lambda _: None)
    texts = [m["text"] for m in outbox(runtime, kind="auto_cancel.warning", to=debtor.msisdn)]
    assert len(texts) == 1 and "2天后" in texts[0], texts  # the 24th: two days before the 26th
    _at(runtime, dt.datetime(2027, 2, 25, 10, tzinfo=SHANGHAI))
    tick(runtime, show_progress=False, emit=lambda _: None)
    assert len(outbox(runtime, kind="auto_cancel.warning", to=debtor.msisdn)) == 2
