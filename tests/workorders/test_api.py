"""Work orders over HTTP: a fraud-stopped line at a store waits for its home province's back
office, due across National Day; approval completes it, rejection is a logged refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import Api, checked_api
from tests.workorders.support import (
    CST,
    DUE,
    OPENED,
    PLAN_30,
    Offices,
    decide,
    fraud_stopped,
    open_offices,
    request_review,
    sms,
)
from xiaohu.cancellation.models import Refusal
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime
from xiaohu.workorders.service import run_overdue


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


@pytest.fixture()
def offices(ctx: Context) -> Offices:
    return open_offices(ctx)


def opened(api: Api, client: TestClient, offices: Offices) -> tuple[dict[str, Any], Any]:
    """A fraud-stopped line's request at the Beijing counter on 30 September; the owner's
    other line is `rec["other"]`."""
    api.set_clock(OPENED)
    stopped, other = fraud_stopped()
    api.import_lines(stopped, other)
    r = request_review(client, offices.clerk, stopped)
    assert r.status_code == 202, r.text
    return {**stopped, "other": other["msisdn"]}, r.json()


def line_of(runtime: Runtime, msisdn: str) -> Line:
    with runtime.sessions() as s:
        return s.scalars(select(Line).where(Line.msisdn == msisdn)).one()


def test_a_fraud_stop_at_a_store_waits_for_the_home_province_due_after_national_day(
    api: Api, client: TestClient, offices: Offices, runtime: Runtime
) -> None:
    rec, body = opened(api, client, offices)
    assert body["status"] == "pending_review" and body["review_reasons"] == ["fraud_stop"]
    assert body["work_order"]["due_at"] == DUE
    assert body["channel"] == "store" and body["cross_region"] is False
    c = client.get(f"/api/v1/cancellations/{body['id']}", headers=offices.clerk).json()
    assert c["status"] == "pending_review"
    r = client.get(f"/api/v1/cancellations/{body['id']}/receipt.pdf", headers=offices.clerk)
    assert r.status_code == 404 and r.json()["code"] == "CANCELLATION_NOT_FOUND"
    line = line_of(runtime, rec["msisdn"])
    assert line.status == "fraud_stop" and line.cash_fen == 20000  # nothing changed yet

    queue = client.get("/api/v1/workorders?status=open", headers=offices.bj).json()
    [order] = queue["work_orders"]
    assert order["id"] == body["work_order"]["id"] and order["kind"] == "fraud_stop"
    assert order["home_province"] == "11" and order["handling_province"] == "11"
    assert order["status"] == "open" and order["overdue"] is False
    assert client.get("/api/v1/workorders", headers=offices.gd).json() == {"work_orders": []}
    admin = client.get("/api/v1/workorders?status=open", headers=offices.admin).json()
    assert [o["id"] for o in admin["work_orders"]] == [order["id"]]
    r = client.get("/api/v1/workorders", headers=offices.clerk)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"

    # the same line again: the order is already waiting
    again = request_review(client, offices.clerk, rec)
    assert again.status_code == 409 and again.json()["code"] == "REVIEW_PENDING", again.text


def test_a_review_cannot_take_a_cash_refund(api: Api, client: TestClient, offices: Offices) -> None:
    api.set_clock(OPENED)
    stopped, other = fraud_stopped()
    api.import_lines(stopped, other)
    r = request_review(client, offices.clerk, stopped, refund_route={"kind": "cash"})
    assert r.status_code == 422 and r.json()["code"] == "REFUND_ROUTE_INVALID", r.text
    assert client.get("/api/v1/workorders", headers=offices.bj).json()["work_orders"] == []


def test_approval_completes_the_cancellation_once(
    api: Api, client: TestClient, offices: Offices, runtime: Runtime
) -> None:
    rec, body = opened(api, client, offices)
    order_id = body["work_order"]["id"]
    api.set_clock(dt.datetime(2026, 10, 8, 15, 0, tzinfo=CST))  # the quote long expired

    r = decide(client, offices.gd, order_id, "approve", "ok")
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN", r.text
    r = decide(client, offices.admin, order_id, "approve", "ok")
    assert r.status_code == 403, r.text

    r = decide(client, offices.bj, order_id, "approve", "核实为本人，同意销户", key="d-1")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["work_order"]["status"] == "approved" and out["work_order"]["overdue"] is False
    c = out["cancellation"]
    assert c["id"] == body["id"] and c["status"] == "cancelled"
    assert c["reference"] == body["reference"]
    assert c["refund"]["refund_now_fen"] > 0
    assert c["refund"]["refund_now_fen"] + c["refund"]["reserve_fen"] + c["charges_fen"] == 20000
    assert line_of(runtime, rec["msisdn"]).status == "cancelled"
    assert any("已销户" in t and c["reference"] in t for t in sms(client, rec["other"]))

    replay = decide(client, offices.bj, order_id, "approve", "核实为本人，同意销户", key="d-1")
    assert replay.status_code == 200 and replay.json() == out
    assert replay.headers.get("Idempotent-Replayed") == "true"
    twice = decide(client, offices.bj, order_id, "reject", "改判", key="d-2")
    assert twice.status_code == 409 and twice.json()["code"] == "WORK_ORDER_DECIDED"
    assert twice.json()["decision"] == "approved"
    closed = client.get("/api/v1/workorders?status=closed", headers=offices.bj).json()
    assert [o["id"] for o in closed["work_orders"]] == [order_id]
    audit = client.get(f"/api/v1/lines/{rec['msisdn']}/audit", headers=offices.clerk).json()
    actors = {e["action"]: e["actor"] for e in audit["events"]}
    assert actors["workorder.opened"] == "clerk:bj.wang"
    assert actors["workorder.approved"] == "backoffice:bj.review"


def test_rejection_is_a_logged_refusal_and_the_line_stays(
    api: Api, client: TestClient, offices: Offices, runtime: Runtime
) -> None:
    rec, body = opened(api, client, offices)
    order_id = body["work_order"]["id"]
    r = decide(client, offices.bj, order_id, "reject", "涉诈核查未完成")
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["status"] == "rejected"
    assert r.json()["work_order"]["decision_reason"] == "涉诈核查未完成"
    c = client.get(f"/api/v1/cancellations/{body['id']}", headers=offices.clerk).json()
    assert c["status"] == "rejected"
    line = line_of(runtime, rec["msisdn"])
    assert line.status == "fraud_stop" and line.cash_fen == 20000
    with runtime.sessions() as s:
        refusal = s.scalars(select(Refusal).where(Refusal.line_id == line.id)).one()
    assert refusal.codes == ["REVIEW_REJECTED"] and refusal.staff_login == "bj.review"
    assert refusal.blockers is not None and refusal.blockers[0]["reason"] == "涉诈核查未完成"
    assert any("涉诈核查未完成" in t for t in sms(client, rec["msisdn"]))
    twice = decide(client, offices.bj, order_id, "approve", "ok")
    assert twice.status_code == 409 and twice.json()["code"] == "WORK_ORDER_DECIDED"


def test_an_overdue_order_is_flagged_and_the_owner_told_once(
    api: Api, client: TestClient, offices: Offices, runtime: Runtime
) -> None:
    rec, body = opened(api, client, offices)
    api.set_clock(dt.datetime(2026, 10, 9, 23, 59, tzinfo=CST))
    assert client.get("/api/v1/workorders?status=overdue", headers=offices.bj).json() == {
        "work_orders": []
    }
    api.set_clock(dt.datetime(2026, 10, 10, 0, 0, tzinfo=CST))
    late = client.get("/api/v1/workorders?status=overdue", headers=offices.bj).json()
    assert [o["overdue"] for o in late["work_orders"]] == [True]
    opened_too = client.get("/api/v1/workorders?status=open", headers=offices.bj).json()
    assert len(opened_too["work_orders"]) == 1
    for expected in (1, 0):
        with runtime.sessions() as s:
            report = run_overdue(runtime.context(s, actor="cli"))
            s.commit()
        runtime.deliver_outbox()
        assert report == {"overdue": 1, "notified": expected}
    texts = [t for t in sms(client, rec["msisdn"]) if "超过承诺时限" in t]
    assert len(texts) == 1 and body["reference"] in texts[0]


def test_blockers_a_decision_cannot_lift_refuse_at_once(
    api: Api, client: TestClient, offices: Offices, runtime: Runtime
) -> None:
    api.set_clock(OPENED)
    stopped, other = fraud_stopped(real_name_verified=False)
    api.import_lines(stopped, other)
    from tests.counter.support import Counter

    check = Counter(client, offices.clerk).check(stopped).json()
    assert check["eligible"] is False and check["review_required"] is True
    assert [b["code"] for b in check["blockers"]] == ["NOT_REAL_NAME"]
    r = Counter(client, offices.clerk).cancel(stopped, check, refund_route={"kind": "original"})
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED", r.text
    assert client.get("/api/v1/workorders", headers=offices.bj).json()["work_orders"] == []


def test_a_lifetime_premium_term_is_reviewed_at_a_store_and_still_refused_online(
    api: Api, client: TestClient, offices: Offices
) -> None:
    from tests.factories import example_contracts, line_record

    api.set_clock(OPENED)
    premium = [c for c in example_contracts() if c["kind"] == "premium_number"]
    rec = line_record(
        province="11", contracts=premium, plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0}
    )
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    online = api.check(rec["msisdn"])
    assert online["eligible"] is False
    assert any(b["code"] == "PREMIUM_MIN_SPEND" and b["lifetime"] for b in online["blockers"])
    r = request_review(client, offices.clerk, rec)
    assert r.status_code == 202, r.text
    assert r.json()["review_reasons"] == ["lifetime_term"]
