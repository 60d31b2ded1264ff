"""A declined payment gives its Idempotency-Key back: a retry under the same key with another
amount is a new payment, charged and applied (not a 500 from the gateway's memory)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.billing.test_payments_api import payments, setup
from tests.contracts.helpers import assert_books, auth, fresh
from xiaohu.runtime import Context, Runtime


def test_a_declined_payment_retried_with_the_same_key_and_another_amount_is_paid(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client)
    path = f"/api/v1/lines/{line.msisdn}/payments"
    headers = {**auth(runtime, line), "Idempotency-Key": "retry-1"}
    declined = client.post(path, json={"amount_fen": 19999}, headers=headers)
    assert declined.status_code == 402, declined.text
    paid = client.post(path, json={"amount_fen": 20000}, headers=headers)
    assert paid.status_code == 201, paid.text
    assert paid.json()["cash_balance_fen"] == 20000 - 5800  # the two bills paid first
    again = client.post(path, json={"amount_fen": 20000}, headers=headers)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == paid.json()
    other = client.post(path, json={"amount_fen": 100}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert payments(ctx) == 1
    assert fresh(ctx.session, line.msisdn).cash_fen == 14200
    assert runtime.payment_gateway.charges_made == 1  # type: ignore[attr-defined]
    assert_books(ctx.session, line.msisdn)
