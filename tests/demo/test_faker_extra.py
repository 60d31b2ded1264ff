"""Faker is needed only where demo data is made: an optional extra, imported lazily."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xiaohu.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("<")[0].split("[")[0].split("=")[0].strip() for r in requirements}


def test_faker_is_the_demo_extra_not_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "faker" not in _names(project["dependencies"])
    assert "faker" in _names(project["optional-dependencies"]["demo"])
    assert "faker" in _names(project["optional-dependencies"]["dev"])


def test_the_service_and_the_demo_table_do_not_import_faker() -> None:
    code = (
        "import sys, xiaohu.app, xiaohu.cli, xiaohu.demo.data, xiaohu.demo.numbers, "
        "xiaohu.demo.load; sys.exit('faker' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, done.stderr


def test_demo_data_without_faker_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "faker", None)  # as if it were not installed
    out = tmp_path / "demo.jsonl"
    result = CliRunner().invoke(app, ["demo-data", "--lines", "3", "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == "demo data needs Faker: pip install 'xiaohu[demo]'"
    assert not out.exists()
