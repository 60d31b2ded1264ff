"""The only door to the current time.

Production reads the system clock; the sandbox can pin time to a test clock (like Stripe's test
clocks) so a month of lifecycle runs in a test. Business dates are Asia/Shanghai calendar dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol
from zoneinfo import ZoneInfo

from xiaohu.kit.bounds import is_digits

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock:
    """A clock pinned at one instant until it is moved."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock needs a timezone-aware instant")
        self.at = at.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at += delta


class LazyClock:
    """Asks `load` once for the test clock (None = real time) and then answers from memory."""

    def __init__(self, load: Callable[[], dt.datetime | None], fallback: Clock) -> None:
        self._load = load
        self._fallback = fallback
        self._loaded = False
        self._pinned: dt.datetime | None = None

    def now(self) -> dt.datetime:
        if not self._loaded:
            self._pinned = self._load()
            self._loaded = True
        return self._pinned if self._pinned is not None else self._fallback.now()


def local_date(at: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an instant: billing days and periods use it."""
    return at.astimezone(SHANGHAI).date()


def period_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_period(period: str) -> tuple[int, int]:
    """'2026-11' -> (2026, 11); raises ValueError with a reason otherwise."""
    year_s, _, month_s = period.partition("-")
    if not (is_digits(year_s) and is_digits(month_s)):
        raise ValueError("period must look like YYYY-MM")
    year, month = int(year_s), int(month_s)
    if len(year_s) != 4 or len(month_s) != 2 or not 1 <= month <= 12:
        raise ValueError("period must look like YYYY-MM")
    return year, month


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First day of the period and first day of the next one."""
    year, month = parse_period(period)
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight in Shanghai of `day`, as an aware instant."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)
