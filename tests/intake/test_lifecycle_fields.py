"""Import: the suspension day of an arrears-suspended line, the retention day of a retained one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.factories import line_record, load
from xiaohu.intake.importer import import_records
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context

TODAY = dt.date(2026, 11, 24)  # the tests' clock


def refused(ctx: Context, **kw: Any) -> list[tuple[int, str, str]]:
    with pytest.raises(DomainError) as info:
        import_records(ctx, [line_record(**kw)])
    return [(e["line"], e["field"], e["reason"]) for e in info.value.errors or []]


def test_an_arrears_suspended_line_keeps_its_suspension_day_or_the_import_day(
    ctx: Context,
) -> None:
    given, absent = load(
        ctx,
        line_record(status="arrears_suspended", suspended_on="2026-09-03"),
        line_record(status="arrears_suspended"),
    )
    assert (given.arrears_since, absent.arrears_since) == (dt.date(2026, 9, 3), TODAY)
    assert given.retained_on is None and given.retention_starts_on is None


def test_a_retained_line_pays_the_fee_from_the_next_month_or_from_the_import_month(
    ctx: Context,
) -> None:
    given, absent, december = load(
        ctx,
        line_record(status="retained", retained_on="2026-10-20"),
        line_record(status="retained"),
        line_record(status="retained", retained_on="2025-12-31"),
    )
    assert (given.retained_on, given.retention_starts_on) == (
        dt.date(2026, 10, 20),
        dt.date(2026, 11, 1),
    )
    assert (absent.retained_on, absent.retention_starts_on) == (None, dt.date(2026, 11, 1))
    assert december.retention_starts_on == dt.date(2026, 1, 1)
    assert given.arrears_since is None


def test_an_active_line_has_no_lifecycle_dates(ctx: Context) -> None:
    [line] = load(ctx, line_record())
    assert (line.arrears_since, line.retained_on, line.retention_starts_on) == (None, None, None)


@pytest.mark.parametrize(
    ("kw", "field", "reason"),
    [
        ({"status": "arrears_suspended", "suspended_on": "2026-13-01"}, "suspended_on",
         "must be a date YYYY-MM-DD, not '2026-13-01'"),
        ({"status": "arrears_suspended", "suspended_on": 20260901}, "suspended_on",
         "must be a date string YYYY-MM-DD, not a number"),
        ({"status": "arrears_suspended", "suspended_on": "2026-11-25"}, "suspended_on",
         "2026-11-25 is in the future"),
        ({"status": "retained", "retained_on": "2027-01-01"}, "retained_on",
         "2027-01-01 is in the future"),
        ({"status": "active", "suspended_on": "2026-09-01"}, "suspended_on",
         "only for a line whose status is arrears_suspended, not active"),
        ({"status": "arrears_suspended", "retained_on": "2026-09-01"}, "retained_on",
         "only for a line whose status is retained, not arrears_suspended"),
    ],
)  # fmt: skip
def test_a_bad_lifecycle_date_names_the_line_and_field(
    ctx: Context, kw: dict[str, Any], field: str, reason: str
) -> None:
    errors = refused(ctx, **kw)
    assert [(line, f) for line, f, _ in errors] == [(1, field)]
    assert errors[0][2].startswith(reason.split(",")[0]) or reason in errors[0][2]
