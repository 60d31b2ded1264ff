"""The article's stories, walked over HTTP against the sandbox.

Each ends with the operator's checks: trial balance zero, audit chains intact, and every line's
cash and gift columns equal to its ledger sub-accounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import T0, Api, checked_api, mint
from tests.factories import line_record, owner
from xiaohu.billing.gateway import SandboxPaymentGateway
from xiaohu.runtime import Runtime

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


def test_clean_online_cancellation_with_instant_refund(api: Api, client: TestClient) -> None:
    """Ms. Wang no longer needs her second number: she closes it from her phone and gets her
    cash back at once, less a small reserve."""
    rec = line_record(
        province="33",
        plan=PLAN_30,
        balance={"cash_fen": 12000, "gift_fen": 3000},
        usage_unbilled_fen=600,
    )
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    check = api.check(m)
    assert check["eligible"] is True
    q = check["quote"]
    # plan 3000 × 24/30 = 2400, usage 600; gift pays both (3000), nothing from cash.
    assert q["final_charges"] == [
        {"item": "plan_fee_prorated", "amount_fen": 2400},
        {"item": "usage_unbilled", "amount_fen": 600},
    ]
    assert (q["forfeited_fen"], q["refund_fen"], q["reserve_fen"], q["refund_now_fen"]) == (
        0,
        12000,
        2133,
        9867,
    )
    r = api.cancel(rec, check, key="wang-1")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["refund"] == {
        "refund_now_fen": 9867,
        "reserve_fen": 2133,
        "route": {"kind": "original", "method": "alipay", "account": "zh***@example.com"},
        "status": "pending",  # until the gateway confirms the payout, after the commit
    }
    # A cancelled number receives no more SMS (the owner has no other line to send it to).
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    assert [s["kind"] for s in sms] == ["otp"]
    line = client.get(f"/api/v1/lines/{m}", headers=api.auth(m)).json()
    assert line["status"] == "cancelled" and line["balance"] == {"cash_fen": 2133, "gift_fen": 0}


def test_every_blocker_at_once_then_each_remedy_online(api: Api, client: TestClient) -> None:
    """Mr. Li's number holds everything: a debt, a handset contract, the broadband, a family
    plan and a pending order. One check lists it all; he clears each online and cancels."""
    person = owner()
    member = line_record(province="33", plan=PLAN_30, family={"group_id": "F-LI", "role": "member"})
    rec = line_record(
        province="33",
        owner=person,
        plan=PLAN_30,
        balance={"cash_fen": 20000, "gift_fen": 0},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        bundle={"id": "BB-LI", "broadband_account": "057112345678", "role": "anchor"},
        family={"group_id": "F-LI", "role": "primary"},
        contracts=[
            {
                "id": "C-LI",
                "kind": "handset",
                "starts_on": "2025-06-01",
                "ends_on": "2027-05-31",
                "handset_list_price_fen": 150000,
                "handset_promo_price_fen": 100000,
                "gift_prestore_remaining_fen": 0,
            }
        ],
        pending_orders=[{"id": "O-LI", "kind": "plan_change"}],
    )
    api.import_lines(member, rec)
    m = rec["msisdn"]
    auth = api.sign_in(m)
    check = api.check(m)
    codes = [b["code"] for b in check["blockers"]]
    assert codes == [
        "ARREARS",
        "CONTRACT_ACTIVE",
        "BROADBAND_BOUND",
        "FAMILY_PRIMARY",
        "PENDING_ORDER",
    ]
    by_code = {b["code"]: b for b in check["blockers"]}
    assert by_code["ARREARS"]["amount_fen"] == 3800
    assert by_code["CONTRACT_ACTIVE"]["amount_fen"] == 50000
    assert by_code["CONTRACT_ACTIVE"]["ends_on"] == "2027-05-31"

    # Each remedy is a link the subscriber can follow.
    def follow(code: str, body: dict[str, Any] | None = None) -> Any:
        remedy = by_code[code]["remedy"]
        assert remedy["method"] == "POST"
        r = client.post(remedy["href"], json=body, headers=auth)
        assert r.status_code in (200, 201), (code, r.text)
        return r.json()

    assert follow("ARREARS", {"amount_fen": 3800})["applied"] == [
        {"period": "2026-10", "amount_fen": 3800}
    ]
    ended = follow("CONTRACT_ACTIVE")
    assert ended["penalty_fen"] == 50000
    assert ended["paid_from"] == {"cash_fen": 0, "gift_fen": 0, "payment_fen": 50000}
    follow("BROADBAND_BOUND", {"action": "cancel_broadband"})
    follow("FAMILY_PRIMARY", {"action": "remove_members"})
    follow("PENDING_ORDER")

    # The balance cannot spare the penalty on top of the final bill, so the penalty was paid
    # by a payment of its own: the cash paid for arrears is still there for the final bill and
    # the arrears do not come back.
    check = api.check(m)
    assert check["eligible"] is True, check["blockers"]
    assert check["quote"]["refund_fen"] >= 0
    r = api.cancel(rec, check)
    assert r.status_code == 201, r.text


def test_passport_holder_is_sent_to_a_store(api: Api) -> None:
    """Online cancellation is for resident-ID holders; a passport holder is told which
    channel can do it and what to bring."""
    rec = line_record(province="31", owner=owner(id_type="passport"), plan=PLAN_30)
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    [b] = check["blockers"]
    assert b["code"] == "CHANNEL_NOT_ALLOWED"
    assert b["remedy"]["action"] == "visit_store" and b["remedy"]["channels"] == ["store"]
    r = api.cancel(rec, check)
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED"


def test_lost_line_needs_a_store_visit(api: Api, runtime: Runtime) -> None:
    """A line reported lost cannot be closed online (a thief could). The check says why."""
    rec = line_record(province="44", status="lost", plan=PLAN_30)
    api.import_lines(rec)
    mint(api, runtime, rec["msisdn"], T0)  # a lost SIM receives no code
    check = api.check(rec["msisdn"])
    [b] = check["blockers"]
    assert b["code"] == "ABNORMAL_STATE" and b["state"] == "lost"
    assert b["remedy"]["action"] == "visit_store"


def test_lifetime_premium_number_goes_to_the_complaint_route(api: Api, client: TestClient) -> None:
    """A 'lifetime' minimum spend on a premium number cannot be bought out online: the check
    names the complaint route (operator, then MIIT 12300) instead of a price."""
    rec = line_record(
        province="11",
        plan=PLAN_30,
        balance={"cash_fen": 100000, "gift_fen": 0},
        contracts=[
            {
                "id": "C-VIP",
                "kind": "premium_number",
                "starts_on": "2024-01-01",
                "ends_on": None,
                "monthly_minimum_fen": 13800,
            }
        ],
    )
    api.import_lines(rec)
    auth = api.sign_in(rec["msisdn"])
    [b] = api.check(rec["msisdn"])["blockers"]
    assert b["code"] == "PREMIUM_MIN_SPEND" and b["lifetime"] is True
    assert b.get("amount_fen") is None  # no price: not payable online
    assert b["remedy"]["action"] == "complaint" and "12300" in b["remedy"]["route"]["then"]
    href = f"/api/v1/lines/{rec['msisdn']}/contracts/C-VIP/early-termination"
    r = client.post(href, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "LIFETIME_TERM"


def test_reversal_inside_the_window_and_not_after(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    """Changed her mind: a reversal within the window brings the line back, its final charges
    and gift too; the refund already paid out stays hers (nothing is clawed back from her
    account). Another line cancelled the same day cannot be reversed once the window closed."""
    a = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 500})
    b = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    api.import_lines(a, b)
    ids, paid_out = {}, {}
    for rec in (a, b):
        api.sign_in(rec["msisdn"])
        r = api.cancel(rec, api.check(rec["msisdn"]))
        assert r.status_code == 201, r.text
        ids[rec["msisdn"]] = r.json()["id"]
        paid_out[rec["msisdn"]] = r.json()["refund"]["refund_now_fen"]
    assert paid_out[a["msisdn"]] == 15967  # 200 - (24 - 5 of gift) - 21.33 reserve

    later = T0 + dt.timedelta(minutes=20)
    api.set_clock(later)
    r = client.post(
        f"/api/v1/cancellations/{ids[a['msisdn']]}/reversal", headers=api.auth(a["msisdn"])
    )
    assert r.status_code == 200 and r.json()["status"] == "reversed"
    line = client.get(f"/api/v1/lines/{a['msisdn']}", headers=api.auth(a["msisdn"])).json()
    assert line["status"] == "active"
    assert line["balance"] == {"cash_fen": 20000 - 15967, "gift_fen": 500}
    gateway = runtime.payment_gateway
    assert isinstance(gateway, SandboxPaymentGateway)
    assert (15967, a["msisdn"]) in [(amount, m) for _, amount, m in gateway.refunds_paid()]

    after = T0 + dt.timedelta(hours=24, minutes=1)
    api.set_clock(after)
    mint(api, runtime, b["msisdn"], after)
    r = client.post(
        f"/api/v1/cancellations/{ids[b['msisdn']]}/reversal", headers=api.auth(b["msisdn"])
    )
    assert r.status_code == 409 and r.json()["code"] == "UNDO_WINDOW_CLOSED"


def test_reserve_is_trued_up_when_the_cycle_closes(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    """Roaming charges arrive after the cancellation; at cycle close the reserve pays them and
    the rest comes back without the subscriber lifting a finger."""
    rec = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    out = api.cancel(rec, api.check(m)).json()
    assert out["refund"]["reserve_fen"] == 2133
    r = client.post("/api/v1/sandbox/usage", json={"msisdn": m, "amount_fen": 733})
    assert r.status_code == 201, r.text

    dec1 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=T0.tzinfo)
    api.set_clock(dec1)
    report = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"}).json()
    assert report["settled"] == 1 and report["trued_up_fen"] == 1400
    mint(api, runtime, m, dec1)
    got = client.get(f"/api/v1/cancellations/{out['id']}", headers=api.auth(m)).json()
    assert got["account_status"] == "closed"
    assert got["settlement"]["trued_up_fen"] == 1400
    assert got["settlement"]["late_usage_fen"] == 733
    assert got["settlement"]["closed_at"].startswith("2026-11-30T18:00:00")
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    assert "cancellation.settled" not in [s["kind"] for s in sms]  # no SMS to a cancelled number
    again = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"}).json()
    assert again["settled"] == 0
