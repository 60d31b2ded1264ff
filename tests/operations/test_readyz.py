"""/readyz: ready when the database answers and its schema is at the shipped migrations' head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import test_settings
from tests.served.harness import fresh_database
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.kit.db import make_engine
from xiaohu.kit.migrate import alembic_config
from xiaohu.operations.service import Migrations

HEAD = ", ".join(sorted(Migrations.shipped().heads))


@pytest.fixture()
def database(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (SQLite, or PostgreSQL under XIAOHU_TEST_DATABASE_URL)."""
    with fresh_database(tmp_path) as url:
        yield url


def readyz(url: str) -> tuple[int, dict[str, object], str]:
    engine = make_engine(url)
    try:
        runtime = build_runtime(test_settings(url), engine)
        with TestClient(create_app(runtime)) as client:
            r = client.get("/readyz")
            return r.status_code, r.json(), r.headers["content-type"]
    finally:
        engine.dispose()


def migrate(url: str, to: str) -> None:
    command.upgrade(alembic_config(url), to)


def test_ready_at_head(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "migrations": "ok"}


def test_not_ready_when_the_schema_is_behind(database: str) -> None:
    migrate(database, "head")
    migrate_down = alembic_config(database)
    command.downgrade(migrate_down, "-1")
    engine = make_engine(database)
    with engine.connect() as conn:
        at = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    status, body, content_type = readyz(database)
    assert status == 503
    assert content_type.startswith("application/problem+json")
    assert body["code"] == "NOT_READY"
    assert body["database"] == "ok"
    assert body["migrations"] == f"behind: at {at}, head {HEAD}"
    assert f"migrations: behind: at {at}" in str(body["detail"])


def test_not_ready_when_never_migrated(database: str) -> None:
    status, body, _ = readyz(database)
    assert status == 503
    assert body["migrations"] == f"not migrated: no version, head {HEAD}"


def test_not_ready_when_a_newer_release_migrated_it(database: str) -> None:
    migrate(database, "head")
    engine = make_engine(database)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    status, body, _ = readyz(database)
    assert status == 503
    assert body["migrations"].startswith("unknown: at 9999_future")  # type: ignore[union-attr]


def test_not_ready_when_the_database_is_away() -> None:
    status, body, _ = readyz("postgresql+psycopg://postgres@127.0.0.1:9/nothing")  # port 9: closed
    assert status == 503
    assert body["database"] == "unreachable"
