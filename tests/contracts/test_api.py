"""Contracts over HTTP: list with penalties, early termination and its refusals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.contracts.helpers import assert_books, auth, fresh, pin_clock
from tests.contracts.test_service import HANDSET, LIFETIME, PREMIUM
from tests.factories import line_record, load
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime


def setup(ctx: Context, client: TestClient, cash: int) -> Line:
    pin_clock(client)
    (line,) = load(
        ctx,
        line_record(
            balance={"cash_fen": cash, "gift_fen": 0}, contracts=[HANDSET, PREMIUM, LIFETIME]
        ),
    )
    ctx.session.flush()
    return line


def url(line: Line, ref: str) -> str:
    return f"/api/v1/lines/{line.msisdn}/contracts/{ref}/early-termination"


def test_list_contracts_with_penalties(ctx: Context, client: TestClient, runtime: Runtime) -> None:
    line = setup(ctx, client, cash=0)
    r = client.get(f"/api/v1/lines/{line.msisdn}/contracts", headers=auth(runtime, line))
    assert r.status_code == 200, r.text
    by_id = {c["contract_id"]: c for c in r.json()["contracts"]}
    assert by_id["C-1"]["penalty_fen"] == 318000
    assert by_id["C-1"]["penalty_formula"] == "599900 - 299900 + 30% × 60000"
    assert by_id["C-2"]["penalty_fen"] == 41400 and by_id["C-2"]["remaining_months"] == 3
    assert by_id["C-3"]["lifetime"] and by_id["C-3"]["penalty_fen"] is None


def test_terminate_from_balance(ctx: Context, client: TestClient, runtime: Runtime) -> None:
    line = setup(ctx, client, cash=50000)
    body = {"pay_with": "balance"}
    r = client.post(url(line, "C-2"), json=body, headers=auth(runtime, line))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "contract_id": "C-2",
        "penalty_fen": 41400,
        "paid_from": {"cash_fen": 41400, "gift_fen": 0, "payment_fen": 0},
        "payment_id": None,
        "status": "terminated",
    }
    assert fresh(ctx.session, line.msisdn).cash_fen == 8600
    assert_books(ctx.session, line.msisdn)
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": line.msisdn}).json()["messages"]
    assert any(m["kind"] == "contract_terminated" for m in sms)


def test_terminate_with_a_payment_is_idempotent(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client, cash=1400)
    headers = {**auth(runtime, line), "Idempotency-Key": "t-1"}
    body = {"pay_with": "balance_first"}
    first = client.post(url(line, "C-2"), json=body, headers=headers)
    again = client.post(url(line, "C-2"), json=body, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert first.json()["paid_from"] == {"cash_fen": 1400, "gift_fen": 0, "payment_fen": 40000}
    assert runtime.payment_gateway.charges_made == 1  # type: ignore[attr-defined]
    other = client.post(url(line, "C-2"), json={"pay_with": "balance"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert_books(ctx.session, line.msisdn)


def test_balance_only_short_is_409_insufficient_funds(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client, cash=100)
    r = client.post(url(line, "C-1"), json={"pay_with": "balance"}, headers=auth(runtime, line))
    assert r.status_code == 409
    assert r.json()["code"] == "INSUFFICIENT_FUNDS" and r.json()["shortfall_fen"] == 317900
    assert fresh(ctx.session, line.msisdn).cash_fen == 100
    assert_books(ctx.session, line.msisdn)


def test_lifetime_term_is_409_with_the_complaint_route(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client, cash=10**6)
    r = client.post(url(line, "C-3"), headers=auth(runtime, line))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "LIFETIME_TERM"
    assert "12300" in body["complaint"]["then"]


def test_not_found_not_active_and_forbidden(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    line = setup(ctx, client, cash=10**6)
    r = client.post(url(line, "C-404"), headers=auth(runtime, line))
    assert r.status_code == 404 and r.json()["code"] == "CONTRACT_NOT_FOUND"
    assert client.post(url(line, "C-2"), headers=auth(runtime, line)).status_code == 200
    r = client.post(url(line, "C-2"), headers=auth(runtime, line))
    assert r.status_code == 409 and r.json()["code"] == "CONTRACT_NOT_ACTIVE"
    (other,) = load(ctx, line_record())
    r = client.post(url(line, "C-1"), headers=auth(runtime, other))
    assert r.status_code == 403
    r = client.post(url(line, "C-1"), json={"pay_with": "card"}, headers=auth(runtime, line))
    assert r.status_code == 422
