"""`xiaohu stores drawer`: the drawer's day printed as a table, on a database of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from xiaohu.cli import app
from xiaohu.config import get_settings
from xiaohu.kit.db import make_engine
from xiaohu.kit.migrate import upgrade
from xiaohu.ledger.rules import GATEWAY_CLEARING, credit, debit, store_drawer
from xiaohu.ledger.service import post
from xiaohu.stores.models import Store

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture()
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'drawer.db'}"
    monkeypatch.setenv("XIAOHU_DATABASE_URL", url)
    monkeypatch.setenv("XIAOHU_MODE", "sandbox")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_the_drawer_is_printed_and_reconciles(database: str) -> None:
    result = CliRunner().invoke(app, ["stores", "drawer", "--store", "11-BJ-0001"])
    assert result.exit_code == 1 and "STORE_NOT_FOUND" in result.output

    engine = make_engine(database)
    upgrade(engine)
    at = dt.datetime(2026, 11, 24, 23, 50, tzinfo=CST)
    with Session(engine) as s, s.begin():
        s.add(Store(code="11-BJ-0001", name="北京西单营业厅", province_code="11", city="北京",
                    kind="own_flagship", created_at=at, updated_at=at))  # fmt: skip
        s.flush()
        # Cash counted into the drawer, then 20.00 of it taken to the bank.
        drawer = store_drawer("11-BJ-0001")
        cash_in = [debit(drawer, 5000), credit(GATEWAY_CLEARING, 5000)]
        post(s, "test.cash_in", cash_in, at=at, ref="T-1")
        banked = [debit(GATEWAY_CLEARING, 2000), credit(drawer, 2000)]
        post(s, "test.banked", banked, at=at, ref="T-2")
    engine.dispose()

    args = ["stores", "drawer", "--store", "11-BJ-0001", "--date", "2026-11-24"]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "test.cash_in" in result.output and "T-2" in result.output
    assert "closing ¥30.00" in result.output and "ledger ¥30.00" in result.output
    assert "reconciled" in result.output and "NOT" not in result.output

    result = CliRunner().invoke(app, [*args[:4], "--date", "2026-11-25"], terminal_width=200)
    assert result.exit_code == 0 and "test.cash_in" not in result.output

    result = CliRunner().invoke(app, [*args[:4], "--date", "24/11/2026"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
