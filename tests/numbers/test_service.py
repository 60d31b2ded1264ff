"""The number pool: quarantine, restore on reversal, release when the days have passed."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import line_record, load
from xiaohu.kit.errors import DomainError
from xiaohu.numbers import service
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context


def test_quarantine_uses_the_home_provinces_days(ctx: Context) -> None:
    zj, sh = load(ctx, line_record(province="33"), line_record(province="31"))
    assert service.quarantine(ctx, zj) == ctx.now() + dt.timedelta(days=90)
    assert service.quarantine(ctx, sh) == ctx.now() + dt.timedelta(days=180)


def test_release_due_frees_only_numbers_whose_quarantine_passed(ctx: Context) -> None:
    a, b = load(ctx, line_record(province="33"), line_record(province="31"))
    service.quarantine(ctx, a)
    service.quarantine(ctx, b)
    later = ctx.now() + dt.timedelta(days=90)
    assert service.release_due(ctx, later - dt.timedelta(seconds=1)) == 0
    assert service.release_due(ctx, later) == 1
    assert service.release_due(ctx, later) == 0  # twice: nothing more
    ctx.session.expire_all()
    record = ctx.session.get(NumberRecord, a.msisdn)
    assert record is not None and (record.status, record.released_at) == ("available", later)
    other = ctx.session.get(NumberRecord, b.msisdn)
    assert other is not None and other.status == "quarantine"


def test_restore_takes_the_number_back_while_in_quarantine(ctx: Context) -> None:
    [line] = load(ctx, line_record(province="33"))
    service.quarantine(ctx, line)
    assert service.restore(ctx, line).status == "assigned"
    with pytest.raises(DomainError) as err:
        service.restore(ctx, line)
    assert err.value.code == "NUMBER_REISSUED"


def test_restore_is_refused_once_released(ctx: Context) -> None:
    [line] = load(ctx, line_record(province="33"))
    service.quarantine(ctx, line)
    service.release_due(ctx, ctx.now() + dt.timedelta(days=91))
    ctx.session.expire_all()
    with pytest.raises(DomainError) as err:
        service.restore(ctx, line)
    assert err.value.code == "NUMBER_REISSUED"


def test_a_restored_number_goes_back_into_quarantine_on_a_new_cancellation(
    ctx: Context,
) -> None:
    [line] = load(ctx, line_record(province="33"))
    first = service.quarantine(ctx, line)
    assert service.restore(ctx, line).status == "assigned"
    later = service.quarantine(ctx, line, days=7)
    assert later == ctx.now() + dt.timedelta(days=7) and later != first
    record = service.restore(ctx, line)  # reads the row the upsert wrote, not a stale copy
    assert record.status == "assigned" and record.former_line_id == line.id
