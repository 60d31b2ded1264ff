"""Retention and reactivation over HTTP: the line's token, the clerk's, idempotency, refusals."""

from __future__ import annotations

from typing import Any

from tests.cancellation.support import Api
from tests.counter.support import Desk, beijing, documents

BILL = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}


def base(msisdn: str) -> str:
    return f"/api/v1/lines/{msisdn}"


def test_check_apply_and_the_lines_overview(api: Api) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    auth = api.sign_in(m)
    r = api.client.get(f"{base(m)}/retention-check", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "eligible": True,
        "blockers": [],
        "fee_per_month_fen": 500,
        "minimums": [],
        "starts_on": "2026-12-01",
        "months_covered": 12,
    }
    headers = {**auth, "Idempotency-Key": "keep-1"}
    first = api.client.post(f"{base(m)}/retention", headers=headers)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "status": "retained",
        "starts_on": "2026-12-01",
        "fee_per_month_fen": 500,
        "months_covered": 12,
    }
    replay = api.client.post(f"{base(m)}/retention", headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    view = api.client.get(base(m), headers=auth).json()
    assert view["status"] == "retained" and view["arrears_since"] is None
    assert view["retention"] == {
        "starts_on": "2026-12-01",
        "fee_per_month_fen": 500,
        "months_covered": 12,
        "retained_on": "2026-11-24",
    }
    again = api.client.post(f"{base(m)}/retention", headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "RETENTION_BLOCKED"
    assert [b["state"] for b in again.json()["blockers"]] == ["retained"]
    checked = api.client.get(f"{base(m)}/retention-check", headers=auth).json()
    assert checked["eligible"] is False  # retained already: its own figures, not a new start
    retention = view["retention"]
    assert (checked["starts_on"], checked["months_covered"]) == (
        retention["starts_on"],
        retention["months_covered"],
    )
    sms = api.client.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    assert sms[0]["kind"] == "retention"


def test_blockers_answer_409_with_remedies(api: Api) -> None:
    rec = beijing(unpaid_bills=[BILL], balance={"cash_fen": 0, "gift_fen": 0})
    api.import_lines(rec)
    auth = api.sign_in(rec["msisdn"])
    r = api.client.post(f"{base(rec['msisdn'])}/retention", headers=auth)
    assert r.status_code == 409, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == "RETENTION_BLOCKED"
    [arrears] = body["blockers"]
    assert arrears["code"] == "ARREARS" and arrears["amount_fen"] == 3800
    assert arrears["remedy"]["href"] == f"{base(rec['msisdn'])}/payments"


def test_reactivation_online(api: Api) -> None:
    rec = beijing(status="retained", unpaid_bills=[BILL], balance={"cash_fen": 0, "gift_fen": 0})
    active = beijing()
    api.import_lines(rec, active)
    m = rec["msisdn"]
    auth = api.sign_in(m)  # a suspended line still signs in
    r = api.client.post(f"{base(m)}/reactivation", headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "ARREARS", r.text
    assert r.json()["amount_fen"] == 3800
    paid = api.client.post(f"{base(m)}/payments", json={"amount_fen": 3800}, headers=auth)
    assert paid.status_code == 201, paid.text
    headers = {**auth, "Idempotency-Key": "back-1"}
    r = api.client.post(f"{base(m)}/reactivation", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    assert api.client.post(f"{base(m)}/reactivation", headers=headers).status_code == 200
    assert api.client.get(base(m), headers=auth).json()["status"] == "active"
    other = api.sign_in(active["msisdn"])
    r = api.client.post(f"{base(active['msisdn'])}/reactivation", headers=other)
    assert r.status_code == 409 and r.json()["code"] == "NOT_SUSPENDED"
    assert api.client.post(f"{base(m)}/reactivation", headers=other).status_code == 403


def test_the_store_routes(api: Api, desk: Desk) -> None:
    rec = beijing()
    owing = beijing(status="arrears_suspended", unpaid_bills=[BILL],
                    balance={"cash_fen": 0, "gift_fen": 0})  # fmt: skip
    api.import_lines(rec, owing)
    url = f"/api/v1/store/lines/{rec['msisdn']}/retention"
    r = api.client.post(url, json={"documents": documents(rec)}, headers=desk.agent)
    assert r.status_code == 403
    r = api.client.post(url, json={"documents": {}}, headers=desk.clerk)
    assert r.status_code == 422 and r.json()["code"] == "DOCUMENTS_MISSING"
    r = api.client.post(url, json={"documents": documents(owing)}, headers=desk.clerk)
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH"
    r = api.client.post(url, json={"documents": documents(rec)}, headers=desk.clerk)
    assert r.status_code == 201 and r.json()["status"] == "retained", r.text
    back = f"/api/v1/store/lines/{owing['msisdn']}/reactivation"
    r = api.client.post(back, json={"documents": documents(owing)}, headers=desk.clerk)
    assert r.status_code == 409 and r.json()["code"] == "ARREARS"
    body = {"documents": documents(owing), "payment_method": "cash"}
    headers = {**desk.clerk, "Idempotency-Key": "counter-1"}
    r = api.client.post(back, json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["paid_fen"] == 3800
    drawer = api.client.get("/api/v1/store/drawer", params={"date": "2026-11-24"},
                            headers=desk.clerk).json()  # fmt: skip
    assert drawer["cash_in_fen"] == 3800 and drawer["reconciled"]
    r = api.client.post(f"/api/v1/store/lines/{rec['msisdn']}/reactivation",
                        json={"documents": documents(rec), "payment_method": "card"},
                        headers=desk.gz_clerk)  # fmt: skip
    assert r.status_code == 200 and r.json()["paid_fen"] == 0, r.text
    audit = api.client.get(f"{base(rec['msisdn'])}/audit", headers=desk.clerk).json()["events"]
    assert [e["staff_login"] for e in audit if e["action"] == "reactivation.done"] == ["gz.li"]
