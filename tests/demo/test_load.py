"""`make demo` runs again after a try, keeping it; `demo-reset` starts afresh."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import TEST_KEY, test_settings
from tests.demo.support import cancel_demo_number
from xiaohu.assembly import build_runtime
from xiaohu.demo.data import write
from xiaohu.demo.load import NotResettable, load, reset
from xiaohu.kit.db import transaction
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime

XIAOHU = str(Path(sys.executable).with_name("xiaohu"))


def _demo_file(path: Path, lines: int, seed: int = 2026) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        write(fh, lines=lines, seed=seed, show_progress=False)
    return path


def _setup(env: dict[str, str], demo_file: Path) -> str:
    """The set-up steps of `make demo` (everything but serve); each must succeed."""
    said = []
    for step in (["migrate"], ["demo-load", str(demo_file)], ["demo-numbers"]):
        done = subprocess.run(  # noqa: S603 (our own command line)
            [XIAOHU, *step], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        said.append(done.stdout + done.stderr)
    return "\n".join(said)


def _clean_number(table: str) -> str:
    (row,) = [r for r in table.splitlines() if "clean line" in r]
    return row.split("│")[1].strip()


def test_demo_setup_runs_twice_with_a_cancellation_between(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    url = f"sqlite:///{db}"
    demo_file = _demo_file(tmp_path / "demo.jsonl", 300)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOHU_")}
    env.update(
        XIAOHU_DATABASE_URL=url, XIAOHU_MODE="sandbox", XIAOHU_SECRET_KEY=TEST_KEY, COLUMNS="200"
    )

    first = _setup(env, demo_file)
    assert "imported 300 line(s)" in first
    cancelled = _clean_number(first)
    runtime = build_runtime(test_settings(url))
    with transaction(runtime.sessions) as session:
        cancel_demo_number(runtime.context(session), demo_file, cancelled)

    second = _setup(env, demo_file)
    assert "300 already here, kept" in second
    assert cancelled not in second  # a cancelled number is not offered again
    assert _clean_number(second) != cancelled
    with transaction(runtime.sessions, readonly=True) as session:
        status = session.scalar(select(Line.status).where(Line.msisdn == cancelled))
    assert status == "cancelled"  # the earlier try is kept
    runtime.engine.dispose()


def test_load_adds_only_new_numbers_and_keeps_the_rest(runtime: Runtime, tmp_path: Path) -> None:
    small = _demo_file(tmp_path / "small.jsonl", 40, seed=3)
    assert load(runtime, small).result.imported == 40
    with transaction(runtime.sessions) as session:
        line = session.scalars(select(Line).order_by(Line.id)).first()
        assert line is not None
        line.cash_fen += 12345  # what a try changed: a re-load must not undo it
        line.version += 1
        changed, cash = line.msisdn, line.cash_fen
    buf = io.StringIO()
    write(buf, lines=60, seed=3, show_progress=False)
    new = [json.loads(x) for x in buf.getvalue().splitlines()[40:]]
    new = [r for r in new if r["msisdn"] not in small.read_text(encoding="utf-8")]
    bigger = tmp_path / "bigger.jsonl"
    bigger.write_text(
        small.read_text(encoding="utf-8")
        + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new),
        encoding="utf-8",
    )

    loaded = load(runtime, bigger)
    assert loaded.result.errors == []
    assert (loaded.kept, loaded.result.imported) == (40, len(new))
    with transaction(runtime.sessions, readonly=True) as session:
        assert session.scalar(select(Line.cash_fen).where(Line.msisdn == changed)) == cash
    again = load(runtime, bigger)
    assert (again.kept, again.result.imported) == (40 + len(new), 0)


def test_demo_reset_removes_the_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    db.write_bytes(b"x")
    (tmp_path / "demo.db-wal").write_bytes(b"x")
    assert reset(f"sqlite:///{db}") == [db, tmp_path / "demo.db-wal"]
    assert not db.exists()
    assert reset(f"sqlite:///{db}") == []
    with pytest.raises(NotResettable):
        reset("postgresql+psycopg://postgres@127.0.0.1:5432/xiaohu")


def test_demo_reset_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from xiaohu.cli import app
    from xiaohu.config import get_settings

    db = tmp_path / "demo.db"
    db.write_bytes(b"x")
    monkeypatch.setenv("XIAOHU_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("XIAOHU_MODE", "production")
    monkeypatch.setenv("XIAOHU_SECRET_KEY", TEST_KEY + "-production")
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["demo-reset"])
        assert refused.exit_code == 2 and "sandbox mode only" in refused.output
        assert db.exists()
        monkeypatch.setenv("XIAOHU_MODE", "sandbox")
        get_settings.cache_clear()
        done = CliRunner().invoke(app, ["demo-reset"])
        assert done.exit_code == 0, done.output
        assert "removed" in done.output and not db.exists()
    finally:
        get_settings.cache_clear()
