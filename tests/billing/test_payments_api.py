"""POST /payments and GET /bills over HTTP: idempotency, declines, auth."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.contracts.helpers import assert_books, auth, fresh, pin_clock
from tests.factories import line_record, load
from xiaohu.billing.models import Payment
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime

BILLS = [
    {"period": "2026-09", "amount_fen": 2000, "due_on": "2026-10-15"},
    {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"},
]


def setup(ctx: Context, client: TestClient, **kw: object) -> Line:
    pin_clock(client)
    values: dict[str, Any] = {"balance": {"cash_fen": 0, "gift_fen": 0}, "unpaid_bills": BILLS}
    values.update(kw)
    (line,) = load(ctx, line_record(**values))
    ctx.session.flush()
    return line


def payments(ctx: Context) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(Payment)) or 0)


def test_pay_returns_201_with_oldest_first(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client, status="arrears_suspended")
    r = client.post(
        f"/api/v1/lines/{line.msisdn}/payments",
        json={"amount_fen": 6000},
        headers=auth(runtime, line),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["applied"] == [
        {"period": "2026-09", "amount_fen": 2000},
        {"period": "2026-10", "amount_fen": 3800},
    ]
    assert body["cash_balance_fen"] == 200
    assert fresh(ctx.session, line.msisdn).status == "active"
    assert_books(ctx.session, line.msisdn)
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": line.msisdn}).json()["messages"]
    assert any(m["kind"] == "payment_receipt" for m in sms)
    bills = client.get(f"/api/v1/lines/{line.msisdn}/bills", headers=auth(runtime, line)).json()
    assert bills["arrears_fen"] == 0
    assert [b["status"] for b in bills["bills"]] == ["paid", "paid"]


def test_a_retry_with_the_same_key_replays_and_never_pays_twice(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client)
    headers = {**auth(runtime, line), "Idempotency-Key": "pay-1"}
    url = f"/api/v1/lines/{line.msisdn}/payments"
    first = client.post(url, json={"amount_fen": 1000}, headers=headers)
    again = client.post(url, json={"amount_fen": 1000}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert payments(ctx) == 1
    other = client.post(url, json={"amount_fen": 1001}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert payments(ctx) == 1
    assert_books(ctx.session, line.msisdn)


def test_a_declined_payment_is_402_and_writes_nothing(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client)
    r = client.post(
        f"/api/v1/lines/{line.msisdn}/payments",
        json={"amount_fen": 9999},
        headers={**auth(runtime, line), "Idempotency-Key": "d-1"},
    )
    assert r.status_code == 402
    assert r.json()["code"] == "PAYMENT_DECLINED"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert payments(ctx) == 0
    assert fresh(ctx.session, line.msisdn).cash_fen == 0
    assert_books(ctx.session, line.msisdn)


def test_amount_must_be_a_positive_integer(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client)
    for bad in (0, -1, 1.5, "100"):
        r = client.post(
            f"/api/v1/lines/{line.msisdn}/payments",
            json={"amount_fen": bad},
            headers=auth(runtime, line),
        )
        assert r.status_code == 422, bad
        assert r.json()["code"] == "VALIDATION_FAILED"


def test_another_lines_token_is_403(ctx: Context, client: TestClient, runtime: Runtime) -> None:
    line = setup(ctx, client)
    (other,) = load(ctx, line_record())
    r = client.post(
        f"/api/v1/lines/{line.msisdn}/payments",
        json={"amount_fen": 100},
        headers=auth(runtime, other),
    )
    assert r.status_code == 403
    r = client.get(f"/api/v1/lines/{line.msisdn}/bills", headers=auth(runtime, other))
    assert r.status_code == 403
    assert client.get(f"/api/v1/lines/{line.msisdn}/bills").status_code == 401
    assert payments(ctx) == 0
