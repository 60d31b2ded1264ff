"""Deadlines by the Chinese working calendar, and the fallback past its published years."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from xiaohu.workorders import calendar

CST = dt.timezone(dt.timedelta(hours=8))


def at(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=CST)


def end_of(y: int, m: int, d: int) -> dt.datetime:
    """24:00 Asia/Shanghai of that day, in UTC."""
    return (dt.datetime(y, m, d, tzinfo=CST) + dt.timedelta(days=1)).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        (at(2026, 11, 24), end_of(2026, 11, 26)),  # Tuesday: Wednesday, Thursday
        (at(2026, 11, 26), end_of(2026, 11, 30)),  # Thursday: Friday, then Monday
        (at(2026, 11, 28), end_of(2026, 12, 1)),  # opened on a Saturday: Monday, Tuesday
        (at(2026, 9, 30), end_of(2026, 10, 9)),  # National Day: 1-7 October off
        (at(2026, 10, 9), end_of(2026, 10, 12)),  # Saturday 10 October is a make-up day
        (at(2026, 9, 30, 23), end_of(2026, 10, 9)),  # 23:00 is still 30 September
    ],
)
def test_due_at_counts_working_days_after_the_opening_day(
    opened: dt.datetime, due: dt.datetime
) -> None:
    assert calendar.due_at(opened) == due
    assert calendar.due_at(opened).tzinfo == dt.UTC


def test_the_real_calendar_knows_national_day_2026() -> None:
    days = [dt.date(2026, 10, d) for d in range(1, 11)]
    assert [calendar.is_working_day(d) for d in days] == [False] * 7 + [True] * 3


def test_beyond_the_published_years_weekends_only_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar._warned.discard(2099)
    with caplog.at_level(logging.WARNING, logger="xiaohu.workorders.calendar"):
        # Thursday 1 January 2099: no holiday data, so Friday and Monday count
        assert calendar.due_at(at(2099, 1, 1)) == end_of(2099, 1, 5)
        calendar.due_at(at(2099, 1, 1))
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1  # once per year and process


def test_beyond_the_published_years_the_fixed_date_holidays_still_count() -> None:
    """Opened Wednesday 30 September 2099: 1–3 October are holidays by law whatever the
    year's published calendar, so the two working days are Monday 5 and Tuesday 6."""
    assert not calendar.is_working_day(dt.date(2099, 10, 1))
    assert not calendar.is_working_day(dt.date(2099, 10, 2))
    assert calendar.due_at(at(2099, 9, 30)) == end_of(2099, 10, 6)
