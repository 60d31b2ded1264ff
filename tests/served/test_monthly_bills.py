"""Served (sandbox): close-cycle issues the month's bills, paid from the balance where it can;
the line reads them back and the SMS says what was paid, what is owed and by when."""

from __future__ import annotations

from tests.served.flows import add_line, sign_in
from tests.served.harness import Served


def at(server: Served, now: str) -> None:
    r = server.put("/api/v1/sandbox/clock", {"now": now})
    assert r.status_code == 200, r.text


def test_close_cycle_bills_the_month_and_the_line_reads_it_back(sandbox_server: Served) -> None:
    server = sandbox_server
    at(server, "2026-11-10T10:00:00+08:00")
    paying = add_line(server, province="33", balance={"cash_fen": 20000, "gift_fen": 0})
    short = add_line(server, province="44", balance={"cash_fen": 5000, "gift_fen": 0})
    retained = add_line(server, province="44", status="retained", retained_on="2026-08-03",
                        balance={"cash_fen": 0, "gift_fen": 0})  # fmt: skip
    suspended = add_line(server, status="arrears_suspended", suspended_on="2026-10-01")
    at(server, "2026-12-01T09:00:00+08:00")
    r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2026-11"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["bills_issued"] == 3 and report["sms"] == 3
    assert report["billed_fen"] == 12900 + 12900 + 500
    assert report["paid_from_cash_fen"] == 12900 + 5000
    assert report["unpaid_fen"] == 7900 + 500

    token = sign_in(server, short["msisdn"])
    bills = server.get(f"/api/v1/lines/{short['msisdn']}/bills", token=token)
    assert bills.status_code == 200, bills.text
    assert bills.json()["bills"] == [
        {"period": "2026-11", "kind": "cycle", "amount_fen": 12900, "paid_fen": 5000,
         "due_on": "2026-12-15", "status": "unpaid"}
    ]  # fmt: skip
    assert bills.json()["arrears_fen"] == 7900
    sms = server.get("/api/v1/sandbox/sms", params={"msisdn": short["msisdn"]}).json()
    texts = [m["text"] for m in sms["messages"] if m["kind"] == "bill.issued"]
    assert texts == [
        "【账单】2026年11月账单¥129.00，已从余额扣缴¥50.00，尚欠¥79.00，缴费截止2026-12-15。"
    ]
    token = sign_in(server, retained["msisdn"])
    bills = server.get(f"/api/v1/lines/{retained['msisdn']}/bills", token=token).json()
    assert [(b["kind"], b["amount_fen"]) for b in bills["bills"]] == [("retention", 500)]
    sms = server.get("/api/v1/sandbox/sms", params={"msisdn": suspended["msisdn"]}).json()
    assert not [m for m in sms["messages"] if m["kind"] == "bill.issued"]
    sms = server.get("/api/v1/sandbox/sms", params={"msisdn": paying["msisdn"]}).json()
    assert [m["kind"] for m in sms["messages"]].count("bill.issued") == 1

    again = server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2026-11"})
    assert again.status_code == 200 and again.json()["bills_issued"] == 0
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True
