"""The operator's tools: the standard Alembic CLI on the repository's `alembic.ini`, and
`xiaohu --version`."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import inspect
from typer.testing import CliRunner

import xiaohu
from tests.served.harness import fresh_database
from xiaohu.cli import app
from xiaohu.kit.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XIAOHU_DATABASE_URL": url}
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_alembic_cli_migrates_the_database_named_by_the_setting(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        history = alembic("history", url=url)
        assert history.returncode == 0, history.stderr
        heads = alembic("heads", url=url).stdout.split()
        assert heads and heads[-1] == "(head)"
        head = heads[0]
        assert head in history.stdout

        before = alembic("current", url=url)
        assert before.returncode == 0, before.stderr
        assert head not in before.stdout

        upgraded = alembic("upgrade", "head", url=url)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "Running upgrade" in upgraded.stderr  # alembic.ini's logging reaches the operator

        assert f"{head} (head)" in alembic("current", url=url).stdout
        engine = make_engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"lines", "cancellations", "alembic_version"} <= tables


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"xiaohu {xiaohu.__version__}"
    assert xiaohu.__version__ == version("xiaohu")  # one version: pyproject reads it from here
