"""Served: a declined payment retried under the same Idempotency-Key with another amount."""

from __future__ import annotations

from tests.served.flows import add_line, sign_in
from tests.served.harness import Served


def test_a_declined_payment_retried_with_another_amount_is_processed(server: Served) -> None:
    record = add_line(server, balance={"cash_fen": 0, "gift_fen": 0})
    msisdn = record["msisdn"]
    token = sign_in(server, msisdn)
    path = f"/api/v1/lines/{msisdn}/payments"
    key = {"Idempotency-Key": "served-retry-1"}
    declined = server.post(path, {"amount_fen": 9999}, token=token, headers=key)
    assert declined.status_code == 402, declined.text
    assert declined.json()["code"] == "PAYMENT_DECLINED"
    paid = server.post(path, {"amount_fen": 10000}, token=token, headers=key)
    assert paid.status_code == 201, paid.text
    assert paid.json()["cash_balance_fen"] == 10000
    replay = server.post(path, {"amount_fen": 10000}, token=token, headers=key)
    assert replay.status_code == 201 and replay.json() == paid.json()
    line = server.get(f"/api/v1/lines/{msisdn}", token=token)
    assert line.json()["balance"]["cash_fen"] == 10000
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True
