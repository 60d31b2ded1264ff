"""Odd input at the edges answers 422 naming the field, never 500: money beyond the documented
maximum, clocks and periods outside the years the service runs in, bank card numbers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import body_for
from tests.contracts.helpers import auth, pin_clock
from tests.factories import line_record, load
from xiaohu.kit.bounds import MAX_FEN
from xiaohu.runtime import Context, Runtime

HUGE = 2**63


def field_of(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_FAILED", r.text
    return [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize(
    "now", ["9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00+08:00", "1999-12-31T10:00:00Z"]
)
def test_the_test_clock_refuses_years_outside_the_range(client: TestClient, now: str) -> None:
    assert field_of(client.put("/api/v1/sandbox/clock", json={"now": now})) == ["now"]
    assert client.put("/api/v1/sandbox/clock", json={"now": "2099-12-31T10:00:00+08:00"}).is_success


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "1999-12", "2026-13", "2026-1"])
def test_close_cycle_refuses_periods_outside_the_range(client: TestClient, period: str) -> None:
    r = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": period})
    assert r.status_code == 422 and r.json()["code"] == "PERIOD_INVALID", r.text
    assert [e["field"] for e in r.json()["errors"]] == ["period"]


@pytest.mark.parametrize("amount", [HUGE, -HUGE, MAX_FEN + 1, 0])
def test_money_beyond_the_maximum_is_refused_by_name(
    ctx: Context, client: TestClient, runtime: Runtime, amount: int
) -> None:
    pin_clock(client)
    (line,) = load(ctx, line_record())
    ctx.session.flush()
    pay = f"/api/v1/lines/{line.msisdn}/payments"
    r = client.post(pay, json={"amount_fen": amount}, headers=auth(runtime, line))
    assert field_of(r) == ["amount_fen"]
    usage = {"msisdn": line.msisdn, "amount_fen": amount}
    assert field_of(client.post("/api/v1/sandbox/usage", json=usage)) == ["amount_fen"]
    late = {**usage, "amount_fen": 100, "occurred_at": "9999-12-31T23:59:59-12:00"}
    assert field_of(client.post("/api/v1/sandbox/usage", json=late)) == ["occurred_at"]


def test_the_openapi_document_shows_the_bounds(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["PaymentIn"]["properties"]["amount_fen"]["maximum"] == MAX_FEN
    assert schemas["UsageIn"]["properties"]["amount_fen"]["maximum"] == MAX_FEN
    assert "pattern" in schemas["PeriodIn"]["properties"]["period"]


@pytest.mark.parametrize(
    "account",
    [
        "4111 1111 1111 1112",  # check digit wrong
        "41111111111",  # 11 digits
        "41111111111111111111",  # 20 digits
        "4111-1111-1111-1111",
        "abcd",
        "４１１１１１１１１１１１１１１１",  # full-width digits
    ],
)
def test_a_bank_card_refund_needs_a_valid_card_number(
    ctx: Context, client: TestClient, runtime: Runtime, account: str
) -> None:
    pin_clock(client)
    record = line_record(province="33", balance={"cash_fen": 30000, "gift_fen": 0})
    (line,) = load(ctx, record)
    ctx.session.flush()
    h = auth(runtime, line)
    check = client.get(f"/api/v1/lines/{line.msisdn}/cancellation-check", headers=h).json()
    route = {"kind": "bank_card", "account": account}
    r = client.post("/api/v1/cancellations", json=body_for(record, check, refund_route=route),
                    headers=h)  # fmt: skip
    assert field_of(r) == ["refund_route.account"]
    route["account"] = "6222 0212 3456 7894"  # a valid 16-digit number (Luhn)
    r = client.post("/api/v1/cancellations", json=body_for(record, check, refund_route=route),
                    headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["route"]["account"] == "****7894"
