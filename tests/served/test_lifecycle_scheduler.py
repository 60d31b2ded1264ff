"""`xiaohu serve` and `xiaohu scheduler` as processes: the sandbox clock moves over months and
the line goes from arrears to the pool again with nobody calling a run endpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from tests.factories import line_record, owner
from tests.served.harness import Served, serve, xiaohu_command
from xiaohu.kit.db import make_engine


@contextmanager
def scheduler(server: Served) -> Iterator[subprocess.Popen[bytes]]:
    log = (server.log_path.parent / "scheduler.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [*xiaohu_command(), "scheduler", "--interval", "0.2"],
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def _scalar(server: Served, sql: str, **params: Any) -> Any:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def _done(server: Served, job: str, key: str) -> bool:
    found = _scalar(
        server, "SELECT status FROM job_runs WHERE job = :job AND key = :key", job=job, key=key
    )
    return bool(found == "done")


def _wait(what: str, ok: Callable[[], bool], server: Served, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            log = (server.log_path.parent / "scheduler.log").read_text(errors="replace")
            raise AssertionError(f"{what}: not within {timeout}s\n{log[-4000:]}")
        time.sleep(0.2)


def _sms(server: Served, msisdn: str, kind: str) -> list[dict[str, Any]]:
    r = server.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
    assert r.status_code == 200, r.text
    return [m for m in r.json()["messages"] if m["kind"] == kind]


def _clock(server: Served, now: str) -> None:
    r = server.put("/api/v1/sandbox/clock", {"now": now})
    assert r.status_code == 200, r.text


def test_the_scheduler_takes_a_line_from_arrears_to_the_pool() -> None:
    with serve("sandbox") as server:
        _clock(server, "2026-11-24T10:00:00+08:00")
        person = owner()
        debtor = line_record(
            province="44",
            owner=person,
            balance={"cash_fen": 0, "gift_fen": 0},
            unpaid_bills=[{"period": "2026-10", "amount_fen": 5000, "due_on": "2026-11-25"}],
        )
        # pays its monthly bills, so it stays active to be told of the cancellation
        other = line_record(
            province="44", owner=person, balance={"cash_fen": 100000, "gift_fen": 0}
        )
        r = server.post("/api/v1/sandbox/lines", [debtor, other])
        assert r.status_code == 200, r.text
        d, o = debtor["msisdn"], other["msisdn"]
        with scheduler(server):
            _wait("first tick", lambda: _done(server, "lifecycle", "2026-11-24"), server)
            assert _done(server, "close-cycle", "2026-10")
            _clock(server, "2026-11-27T10:00:00+08:00")
            _wait("suspension SMS", lambda: bool(_sms(server, d, "arrears.suspended")), server)
            # Guangdong: cancelled 2 months after the suspension (26 Jan), warned on the days
            # 30, 7 and 1 before it (a day caught up on later sends none: it would be late)
            for day in ("2026-12-27", "2027-01-19", "2027-01-25", "2027-01-27"):
                _clock(server, f"{day}T10:00:00+08:00")
                _wait("caught up", lambda d=day: _done(server, "lifecycle", d), server)
            assert len(_sms(server, d, "auto_cancel.warning")) == 3
            assert len(_sms(server, o, "auto_cancel.warning")) == 3
            assert len(_sms(server, o, "cancellation.completed")) == 1
            status = "SELECT status FROM lines WHERE msisdn = :m"
            assert _scalar(server, status, m=d) == "cancelled"
            assert _done(server, "close-cycle", "2026-12")
            number = "SELECT status FROM numbers WHERE msisdn = :m"
            assert _scalar(server, number, m=d) == "quarantine"
            _clock(server, "2027-04-27T10:00:00+08:00")  # 90 days of quarantine later
            _wait("caught up", lambda: _done(server, "lifecycle", "2027-04-27"), server)
            assert _scalar(server, number, m=d) == "available"
            assert _done(server, "close-cycle", "2027-03")
