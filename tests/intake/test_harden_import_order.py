"""An import checks its records before it touches the database: a body of invalid records
never takes a connection (on SQLite, the write lock of BEGIN IMMEDIATE) while it is checked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.factories import line_record
from xiaohu.intake.importer import import_items
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context


def test_invalid_records_are_refused_before_the_database_is_touched(ctx: Context) -> None:
    begun: list[Any] = []
    event.listen(ctx.session, "after_begin", lambda *a: begun.append(a))
    items = [(1, line_record()), *((n, "{}") for n in range(2, 5000))]
    with pytest.raises(DomainError) as caught:
        import_items(ctx, items)
    assert caught.value.code == "IMPORT_INVALID"
    assert begun == []
    assert len(caught.value.errors or []) == 1000
    assert caught.value.extra["records_unchecked"] > 0


def test_valid_records_are_written_after_the_checks(ctx: Context) -> None:
    result = import_items(ctx, iter([(1, line_record()), (2, line_record())]))
    assert result.imported == 2
