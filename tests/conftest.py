"""Test fixtures: a real database built by the migrations, one rolled-back transaction a test.

The suite runs on SQLite by default and on PostgreSQL when XIAOHU_TEST_DATABASE_URL names one.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.config import Settings
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import make_engine
from xiaohu.kit.migrate import upgrade
from xiaohu.runtime import Context, Runtime

TEST_KEY = "test-secret-key-0123456789-abcdefghijklmnop"


def _database_url(tmp: Path) -> str:
    return os.environ.get("XIAOHU_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'test.db'}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """A fresh database for this run: a temporary SQLite file, or on PostgreSQL a database of
    its own (`<name>_<pid>`) so parallel runs never share state. Dropped at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        url = make_url(_database_url(Path(tmp)))
        admin: Engine | None = None
        if url.get_backend_name() == "postgresql":
            admin = make_engine(
                url.set(database="postgres").render_as_string(hide_password=False),
                isolation_level="AUTOCOMMIT",
            )
            url = url.set(database=f"{url.database}_{os.getpid()}")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        eng = make_engine(url.render_as_string(hide_password=False))
        upgrade(eng)
        yield eng
        eng.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture()
def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def test_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": url, "mode": "sandbox", "secret_key": TEST_KEY}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]


@contextmanager
def isolated_runtime(engine: Engine) -> Iterator[Runtime]:
    """A runtime whose every session joins one outer transaction of a connection of its own,
    rolled back at the end (the `runtime` fixture; a property test takes one per example)."""
    connection = engine.connect()
    outer = connection.begin()
    rt = build_runtime(test_settings(engine.url.render_as_string(hide_password=False)), engine)
    rt.sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield rt
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture()
def runtime(engine: Engine) -> Iterator[Runtime]:
    """A runtime whose every session joins one outer transaction that is rolled back."""
    with isolated_runtime(engine) as rt:
        yield rt


@pytest.fixture()
def clock() -> FrozenClock:
    """Tests that call services directly use this clock; API tests use the sandbox clock."""
    return FrozenClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))


@pytest.fixture()
def ctx(runtime: Runtime, clock: FrozenClock) -> Iterator[Context]:
    session = runtime.sessions()
    try:
        yield Context(runtime, session, clock, actor="test")
    finally:
        session.close()


@pytest.fixture()
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def committed_runtime(engine: Engine) -> Iterator[Runtime]:
    """A runtime whose transactions really commit, for tests with real threads (PostgreSQL).
    Every table is emptied afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: row locks and real concurrent transactions")
    rt = build_runtime(test_settings(engine.url.render_as_string(hide_password=False)), engine)
    try:
        yield rt
    finally:
        from xiaohu.models import metadata

        # The chart of accounts is the migration's seed data, not a test's: it stays.
        names = ", ".join(
            f'"{t.name}"' for t in metadata.sorted_tables if t.name != "ledger_accounts"
        )
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
