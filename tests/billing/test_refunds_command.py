"""`xiaohu refunds list|retry`: the operator sees a parked payout and sends it again once the
cause is fixed; the refund stays payable in the ledger until the gateway pays it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.billing.payout_support import DecliningGateway
from tests.cancellation.support import request_for
from tests.factories import line_record, load
from tests.served.harness import fresh_database
from xiaohu.assembly import build_runtime
from xiaohu.billing.models import Refund
from xiaohu.cancellation import service
from xiaohu.cli import app
from xiaohu.config import get_settings
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.kit.migrate import upgrade
from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.runtime import Context


@pytest.fixture()
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        monkeypatch.setenv("XIAOHU_DATABASE_URL", url)
        monkeypatch.setenv(
            "XIAOHU_PAYMENT_GATEWAY", "tests.billing.payout_support:DecliningGateway"
        )
        monkeypatch.setenv("XIAOHU_OUTBOX_MAX_ATTEMPTS", "1")  # parked at the first decline
        monkeypatch.setenv("COLUMNS", "250")
        get_settings.cache_clear()
        DecliningGateway.declines, DecliningGateway.calls = 0, []
        yield url
        get_settings.cache_clear()
        DecliningGateway.declines, DecliningGateway.calls = 0, []


def test_a_failed_payout_is_listed_and_paid_when_retried(database: str) -> None:
    runtime = build_runtime(get_settings())
    upgrade(runtime.engine)
    rec = line_record(province="33", balance={"cash_fen": 20000, "gift_fen": 0})
    clock = FrozenClock(runtime.system_clock.now())
    with transaction(runtime.sessions) as session:
        ctx = Context(runtime, session, clock)
        load(ctx, rec)
        service.cancel(ctx, rec["msisdn"], request_for(rec, service.check(ctx, rec["msisdn"])))
    DecliningGateway.declines = 1
    runtime.deliver_outbox()
    with transaction(runtime.sessions, readonly=True) as session:
        refund_id, status = session.execute(select(Refund.id, Refund.status)).one()
        assert status == "failed"

    listed = CliRunner().invoke(app, ["refunds", "list", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert refund_id in listed.output and "failed" in listed.output
    assert rec["msisdn"] in listed.output
    none_paid = CliRunner().invoke(app, ["refunds", "list", "--status", "paid"])
    assert refund_id not in none_paid.output

    retried = CliRunner().invoke(app, ["refunds", "retry", refund_id])
    assert retried.exit_code == 0, retried.output
    assert "1 paid" in retried.output
    again = CliRunner().invoke(app, ["refunds", "retry", refund_id])
    assert again.exit_code == 1 and "REFUND_NOT_FAILED" in again.output
    with transaction(runtime.sessions, readonly=True) as session:
        refund = session.scalars(select(Refund)).one()
        assert refund.status == "paid"
        payable = line_balance(session, "refunds_payable:33", refund.line_id)
        assert payable == 0
        assert trial_balance(session)["balanced"]
    runtime.engine.dispose()


def test_retry_needs_an_id_or_all_failed(database: str) -> None:
    result = CliRunner().invoke(app, ["refunds", "retry"])
    assert result.exit_code == 2 and "--all-failed" in result.output
