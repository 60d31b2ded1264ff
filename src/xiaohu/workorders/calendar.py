"""Deadlines by the Chinese working calendar (public holidays off, make-up days on).

The `chinese_calendar` package publishes each year's holidays once the State Council announces
them (early November for the next year), so it knows the years up to the current published one
and raises for later ones. A deadline that reaches past its data falls back to Monday to
Friday less the statutory holidays that fall on fixed dates (New Year's Day, 1–2 May, 1–3
October) and logs a warning once per year and process: the deadline can then come a lunar
holiday or a bridging day too early, never too late, and an operator sees that the package
needs updating.
"""

from __future__ import annotations

import datetime as dt
import logging

import chinese_calendar

from xiaohu.kit.clock import SHANGHAI, local_date

log = logging.getLogger(__name__)
_warned: set[int] = set()
# The holidays the law fixes by the solar calendar (全国年节及纪念日放假办法, 2025 revision).
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


def is_working_day(day: dt.date) -> bool:
    """A working day by the published calendar; beyond its years, Monday to Friday less the
    fixed-date holidays."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning(
                "no Chinese working calendar for %d: counting weekends only; update the "
                "chinesecalendar package",
                day.year,
            )
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def due_at(opened_at: dt.datetime, working_days: int = 2) -> dt.datetime:
    """The end (24:00 Asia/Shanghai) of the `working_days`-th working day after the day the
    order is opened, as a UTC instant. The opening day never counts, working or not."""
    day = local_date(opened_at)
    counted = 0
    while counted < working_days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), SHANGHAI)
    return end.astimezone(dt.UTC)
