"""Served: owner-scoped arrears and a cancelled line's shortfall are payable by following the
check's remedies with the same token; a quote's period survives midnight; odd input is 422."""

from __future__ import annotations

from tests.factories import owner
from tests.served.flows import add_line, cancel, check, sign_in
from tests.served.harness import Served

BILL = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]


def close(server: Served, period: str) -> dict[str, int]:
    r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": period})
    assert r.status_code == 200, r.text
    body: dict[str, int] = r.json()
    return body


def balanced(server: Served) -> None:
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True, tb


def test_owner_arrears_and_a_cancelled_lines_shortfall_are_paid_with_one_token(
    server: Served,
) -> None:
    person = owner()
    # its cash pays its own November bill at the close; its old bill it owes until paid below
    owing = add_line(
        server, owner=person, unpaid_bills=BILL, balance={"cash_fen": 20000, "gift_fen": 0}
    )
    gone = add_line(server, owner=person, balance={"cash_fen": 20000, "gift_fen": 0})
    main = add_line(server, owner=person, balance={"cash_fen": 30000, "gift_fen": 0})
    g = gone["msisdn"]
    t = sign_in(server, g)
    q = check(server, g, t)
    assert [b["code"] for b in q["blockers"]] == ["ARREARS"]  # Beijing: the owing line
    # The owner pays the other line from this line's token, then cancels it.
    b = q["blockers"][0]
    r = server.post(b["remedy"]["href"], {"amount_fen": b["amount_fen"]}, token=t)
    assert r.status_code == 201, r.text
    out = cancel(server, gone, t, check(server, g, t))
    assert out.status_code == 201, out.text
    late = out.json()["refund"]["reserve_fen"] + 2500
    assert server.post("/api/v1/sandbox/usage", {"msisdn": g, "amount_fen": late}).is_success
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-12-01T02:00:00+08:00"}).is_success
    assert close(server, "2026-11")["shortfall_fen"] >= 2500

    m = main["msisdn"]
    token = sign_in(server, m)
    blockers = check(server, m, token)["blockers"]
    assert [x["remedy"]["href"] for x in blockers] == [f"/api/v1/lines/{g}/payments"]
    [b] = blockers
    over = server.post(b["remedy"]["href"], {"amount_fen": b["amount_fen"] + 1}, token=token)
    assert over.status_code == 422 and over.json()["code"] == "PAYMENT_EXCEEDS_OWED", over.text
    r = server.post(b["remedy"]["href"], {"amount_fen": b["amount_fen"]}, token=token)
    assert r.status_code == 201, r.text
    assert r.json()["cash_balance_fen"] == 0
    assert check(server, m, token)["eligible"] is True
    assert owing["msisdn"] != m
    balanced(server)


def test_a_quote_before_midnight_is_trued_up_with_its_month(server: Served) -> None:
    rec = add_line(server, province="33", balance={"cash_fen": 30000, "gift_fen": 0})
    m = rec["msisdn"]
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-11-30T23:59:00+08:00"}).is_success
    token = sign_in(server, m)
    q = check(server, m, token)
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-12-01T00:00:30+08:00"}).is_success
    out = cancel(server, rec, token, q)
    assert out.status_code == 201, out.text
    assert server.post("/api/v1/sandbox/usage", {"msisdn": m, "amount_fen": 123}).is_success
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-12-03T00:00:00+08:00"}).is_success
    report = close(server, "2026-11")
    assert report["late_usage_fen"] == 123, report  # this cancellation, trued up in November
    assert report["trued_up_fen"] == out.json()["refund"]["reserve_fen"] - 123
    balanced(server)


def test_odd_values_are_422_naming_the_field(server: Served) -> None:
    cases = [
        ("put", "/api/v1/sandbox/clock", {"now": "9999-12-31T23:59:59+08:00"}, "now"),
        ("put", "/api/v1/sandbox/clock", {"now": "0001-01-01T00:00:00+08:00"}, "now"),
        ("post", "/api/v1/sandbox/runs/close-cycle", {"period": "0000-01"}, "period"),
    ]
    rec = add_line(server)
    token = sign_in(server, rec["msisdn"])
    pay = f"/api/v1/lines/{rec['msisdn']}/payments"
    for method, path, body, field in cases:
        r = getattr(server, method)(path, body)
        assert r.status_code == 422, (path, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = server.post(pay, {"amount_fen": 2**63}, token=token)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount_fen", r.text
