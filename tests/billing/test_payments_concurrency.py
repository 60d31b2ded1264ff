"""Two simultaneous requests with one Idempotency-Key pay once (PostgreSQL, real threads)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.contracts.helpers import NOW, auth
from tests.factories import line_record, load
from xiaohu.app import create_app
from xiaohu.billing.models import Payment
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime


def test_concurrent_retries_pay_once(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with transaction(rt.sessions) as session:
        (line,) = load(
            Context(rt, session, FrozenClock(NOW), actor="test"),
            line_record(
                balance={"cash_fen": 0, "gift_fen": 0},
                unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
            ),
        )
        msisdn, line_id, province = line.msisdn, line.id, line.province_code
        headers = {**auth(rt, line), "Idempotency-Key": "race-1"}
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        assert client.put("/api/v1/sandbox/clock", json={"now": NOW.isoformat()}).is_success

        def post(_: int) -> tuple[int, object]:
            r = client.post(
                f"/api/v1/lines/{msisdn}/payments", json={"amount_fen": 5000}, headers=headers
            )
            return r.status_code, r.json()

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(post, range(4)))
    assert {s for s, _ in results} == {201}, results
    assert all(b == results[0][1] for _, b in results)
    with transaction(rt.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
        cash = session.scalar(select(Line.cash_fen).where(Line.id == line_id))
        assert cash == 1200 == line_balance(session, f"subscriber_cash:{province}", line_id)
        assert trial_balance(session)["balanced"]
    assert rt.payment_gateway.charges_made == 1  # type: ignore[attr-defined]
