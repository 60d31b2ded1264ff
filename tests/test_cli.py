"""The command line's start-up errors are one line, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xiaohu.cli import app
from xiaohu.config import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_unreachable_database_is_one_line_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "XIAOHU_DATABASE_URL", "postgresql+psycopg://bob:hunter2@127.0.0.1:1/nowhere"
    )
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 3
    output = result.output.strip()
    assert len(output.splitlines()) == 1
    assert output.startswith(
        "cannot reach the database at postgresql+psycopg://bob:***@127.0.0.1:1/nowhere"
    )
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_production_without_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOHU_MODE", "production")
    monkeypatch.delenv("XIAOHU_SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "XIAOHU_SECRET_KEY" in result.output


def test_bad_policy_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "policy.toml"
    bad.write_text('[defaults]\nundo_window_hours = "soon"\n', encoding="utf-8")
    monkeypatch.setenv("XIAOHU_POLICY_FILE", str(bad))
    monkeypatch.setenv("XIAOHU_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "undo_window_hours" in result.output
