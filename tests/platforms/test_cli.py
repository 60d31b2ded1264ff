"""`xiaohu platforms add | list | revoke`, on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from xiaohu.cli import app
from xiaohu.config import get_settings
from xiaohu.kit.db import make_engine
from xiaohu.platforms.models import Platform

KEY = "cli-secret-key-0123456789-abcdefghijklmnop"


@pytest.fixture()
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'platforms.db'}"
    monkeypatch.setenv("XIAOHU_DATABASE_URL", url)
    monkeypatch.setenv("XIAOHU_MODE", "sandbox")
    monkeypatch.setenv("XIAOHU_SECRET_KEY", KEY)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_add_list_revoke(database: str) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["platforms", "add", "某银行", "--rate", "600"])
    assert added.exit_code == 0, added.output
    key = next(w for w in added.output.split() if w.startswith("xhp_"))
    again = runner.invoke(app, ["platforms", "add", "某银行"])
    assert again.exit_code == 2 and "PLATFORM_EXISTS" in again.output
    listed = runner.invoke(app, ["platforms", "list"])
    assert listed.exit_code == 0 and "某银行" in listed.output and key[:8] in listed.output
    assert key not in listed.output and "600" in listed.output
    engine = make_engine(database)
    try:
        with Session(engine) as s:
            row = s.scalars(select(Platform)).one()
            assert row.revoked_at is None and row.requests_per_minute == 600
        revoked = runner.invoke(app, ["platforms", "revoke", "某银行"])
        assert revoked.exit_code == 0, revoked.output
        with Session(engine) as s:
            assert s.scalars(select(Platform)).one().revoked_at is not None
    finally:
        engine.dispose()
    missing = runner.invoke(app, ["platforms", "revoke", "没有"])
    assert missing.exit_code == 2 and "NOT_FOUND" in missing.output
