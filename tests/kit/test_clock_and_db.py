from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from xiaohu.kit.clock import FrozenClock, local_date, period_bounds, period_of
from xiaohu.kit.db import UTCDateTime
from xiaohu.runtime import Context
from xiaohu.sandbox.models import TestClockSetting

CST = dt.timezone(dt.timedelta(hours=8))


def test_local_date_is_shanghai_calendar() -> None:
    late_utc = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)  # 01:00 on Dec 1 in Shanghai
    assert local_date(late_utc) == dt.date(2026, 12, 1)
    assert period_of(local_date(late_utc)) == "2026-12"


def test_period_bounds_wraps_the_year() -> None:
    assert period_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds("2026-13")


def test_frozen_clock_refuses_naive_time() -> None:
    with pytest.raises(ValueError):
        FrozenClock(dt.datetime(2026, 1, 1))  # noqa: DTZ001 (the point of the test)


def test_utc_column_keeps_the_instant_on_every_engine(ctx: Context) -> None:
    at = dt.datetime(2027, 1, 1, 10, 0, tzinfo=CST)
    ctx.session.add(TestClockSetting(name="default", now=at))
    ctx.session.flush()
    ctx.session.expire_all()
    stored = ctx.session.scalar(select(TestClockSetting.now))
    assert stored == at and stored is not None and stored.tzinfo is not None


def test_utc_column_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2026, 1, 1), None)  # noqa: DTZ001
