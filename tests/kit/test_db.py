"""Database plumbing of the hot paths: precompiled reads, upserts, read-only units of work."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, insert, select, text

from tests.factories import line_record, load
from xiaohu.kit.db import Prepared, transaction, upsert
from xiaohu.lines.models import Line
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context, Runtime

AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
LINES = Line.__table__

BY_MSISDN = Prepared(
    lambda: select(LINES.c.id, LINES.c.msisdn, LINES.c.status).where(
        LINES.c.msisdn == bindparam("key", ""), LINES.c.status != "cancelled"
    )
)


def test_a_prepared_read_binds_its_constants_and_names_its_columns(ctx: Context) -> None:
    [line] = load(ctx, line_record(province="33"))
    row = BY_MSISDN.first(ctx.session, key=line.msisdn)
    assert row is not None and (row.id, row.msisdn, row.status) == (line.id, line.msisdn, "active")
    assert BY_MSISDN.first(ctx.session, key="19900000000") is None
    line.status = "cancelled"
    ctx.session.flush()
    assert BY_MSISDN.all(ctx.session, key=line.msisdn) == []  # the constant was bound


def test_upsert_inserts_then_updates_the_same_key(ctx: Context) -> None:
    values = {"msisdn": "13800000000", "province_code": "11", "status": "quarantine"}
    upsert(ctx.session, NumberRecord.__table__, values, key=["msisdn"])  # type: ignore[arg-type]
    upsert(
        ctx.session,
        NumberRecord.__table__,  # type: ignore[arg-type]
        {**values, "status": "available", "released_at": AT},
        key=["msisdn"],
    )
    rows = ctx.session.execute(select(NumberRecord.status, NumberRecord.released_at)).all()
    assert [tuple(r) for r in rows] == [("available", AT)]


@pytest.mark.postgres
def test_a_read_only_unit_of_work_is_autocommit_and_refuses_writes(
    committed_runtime: Runtime,
) -> None:
    """No BEGIN/ROLLBACK: psycopg drops its prepared statements on every rollback."""
    with transaction(committed_runtime.sessions, readonly=True) as session:
        driver = session.connection().connection.driver_connection
        assert driver is not None and driver.autocommit is True
        assert session.execute(text("SELECT 1")).scalar() == 1
        assert driver.info.transaction_status.name == "IDLE"  # no transaction was opened
        with pytest.raises(RuntimeError, match="read-only"):
            session.execute(
                insert(NumberRecord),
                {"msisdn": "13800000000", "province_code": "11", "status": "quarantine"},
            )
    with transaction(committed_runtime.sessions) as session:  # the pool gave it back reset
        driver = session.connection().connection.driver_connection
        assert driver is not None and driver.autocommit is False
        assert session.scalar(select(NumberRecord.msisdn)) is None
