"""Retention (停机保号) and reactivation (复机) against a served process (both engines): the
check, applying, the line's overview, reactivation online and at a store's counter."""

from __future__ import annotations

from typing import Any

from tests.served.flows import add_line, sign_in
from tests.served.harness import Served
from tests.served.staffing import add_staff, add_store

BILL = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}
LATER = "2026-11-24T10:05:00+08:00"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def docs(record: dict[str, Any]) -> dict[str, Any]:
    return {"owner": dict(record["owner"])}


def test_check_apply_read_and_reactivate_online(server: Served) -> None:
    rec = add_line(server, province="11", plan=PLAN_30, balance={"cash_fen": 5000, "gift_fen": 0})
    m = rec["msisdn"]
    token = sign_in(server, m)
    r = server.get(f"/api/v1/lines/{m}/retention-check", token=token)
    assert r.status_code == 200, r.text
    check = r.json()
    assert check["eligible"] is True and check["blockers"] == []
    assert (check["fee_per_month_fen"], check["starts_on"], check["months_covered"]) == (
        500, "2026-12-01", 4,
    )  # fmt: skip
    key = {"Idempotency-Key": "served-retain-1"}
    r = server.post(f"/api/v1/lines/{m}/retention", token=token, headers=key)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "status": "retained", "starts_on": "2026-12-01", "fee_per_month_fen": 500,
        "months_covered": 4,
    }  # fmt: skip
    again = server.post(f"/api/v1/lines/{m}/retention", token=token, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    line = server.get(f"/api/v1/lines/{m}", token=token).json()
    assert line["status"] == "retained"
    assert line["retention"]["starts_on"] == "2026-12-01"
    assert line["retention"]["months_covered"] == 4
    # a retained line still signs in (a minute later: a new code), and comes back on request
    assert server.put("/api/v1/sandbox/clock", {"now": LATER}).status_code == 200
    token = sign_in(server, m)
    r = server.post(f"/api/v1/lines/{m}/reactivation", token=token)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    line = server.get(f"/api/v1/lines/{m}", token=token).json()
    assert line["status"] == "active" and line["retention"] is None
    r = server.post(f"/api/v1/lines/{m}/reactivation", token=token)
    assert r.status_code == 409 and r.json()["code"] == "NOT_SUSPENDED"
    kinds = [
        s["kind"]
        for s in server.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    ]
    assert kinds[:2] == ["reactivation", "otp"] and "retention" in kinds


def test_the_store_routes(server: Served) -> None:
    add_store(server, "11-BJ-0101", "北京西单营业厅", "11", "北京")
    clerk = add_staff(server, "bj.served.retention", role="clerk", store_code="11-BJ-0101")
    rec = add_line(server, province="11", plan=PLAN_30)
    owing = add_line(server, province="11", status="arrears_suspended", unpaid_bills=[BILL],
                     balance={"cash_fen": 0, "gift_fen": 0})  # fmt: skip
    r = server.post(
        f"/api/v1/store/lines/{rec['msisdn']}/retention", {"documents": docs(rec)}, token=clerk
    )
    assert r.status_code == 201 and r.json()["status"] == "retained", r.text
    url = f"/api/v1/store/lines/{owing['msisdn']}/reactivation"
    r = server.post(url, {"documents": docs(owing)}, token=clerk)
    assert r.status_code == 409 and r.json()["code"] == "ARREARS"
    assert r.json()["amount_fen"] == 3800
    body = {"documents": docs(owing), "payment_method": "cash"}
    r = server.post(url, body, token=clerk, headers={"Idempotency-Key": "served-back-1"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["paid_fen"] == 3800
    assert server.get("/api/v1/admin/ledger/trial-balance").json()["balanced"] is True
    assert server.get("/api/v1/admin/audit/verify").json()["intact"] is True
