"""Two settlement runs of one month at once (PostgreSQL): one answer, posted once."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text

from tests.settlement.support import OCTOBER, drawer, post_due
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.ledger.models import JournalTransaction, LedgerAccount
from xiaohu.runtime import Context, Runtime
from xiaohu.settlement import service

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


@pytest.mark.postgres
def test_two_runs_at_once_post_once_and_answer_alike(committed_runtime: Runtime) -> None:
    try:
        race(committed_runtime)
    finally:  # the accounts made on first use go too: the chart is the migration's seed
        with committed_runtime.engine.begin() as conn:
            journal = "journal_entries, journal_transactions, settlements"
            conn.execute(text(f"TRUNCATE {journal} CASCADE"))
            conn.execute(
                delete(LedgerAccount).where(
                    LedgerAccount.code.like("due\\_%", escape="\\")
                    | LedgerAccount.code.like("settlement\\_bank:%", escape="\\")
                    | LedgerAccount.code.like(drawer("%"))
                )
            )


def race(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        post_due(session, "32", "44", 9_000, OCTOBER + dt.timedelta(days=1))
        post_due(session, "44", "11", 4_000, OCTOBER + dt.timedelta(days=2))
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait(10)
            with transaction(rt.sessions) as session:
                answers.append(service.settle(Context(rt, session, FrozenClock(NOW)), "2026-10"))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == [] and len(answers) == 2
    assert answers[0] == answers[1]
    with rt.sessions() as session:
        posted = session.scalar(
            select(func.count())
            .select_from(JournalTransaction)
            .where(JournalTransaction.kind == service.KIND)
        )
    assert posted == 3  # one clearing per province: 11, 32, 44
