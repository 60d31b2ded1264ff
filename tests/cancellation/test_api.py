"""The cancellation endpoints over HTTP: shapes, errors, idempotency, refusals kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.cancellation.support import T0, Api, assert_books_consistent
from tests.factories import SERVICE_PASSWORD, line_record, owner
from xiaohu.audit.models import AuditEvent
from xiaohu.billing.models import Refund
from xiaohu.cancellation.models import Refusal
from xiaohu.runtime import Runtime

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def clean(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    return line_record(province="33", **values)


@pytest.fixture()
def api(client: TestClient) -> Api:
    a = Api(client)
    a.set_clock(T0)
    return a


def test_check_answers_the_documented_shape(api: Api) -> None:
    rec = clean(balance={"cash_fen": 20000, "gift_fen": 1000})
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    body = api.check(rec["msisdn"])
    assert set(body) == {"eligible", "blockers", "warnings", "quote"}
    assert body["eligible"] is True and body["blockers"] == []
    q = body["quote"]
    for key in (
        "quote_id",
        "valid_until",
        "final_charges",
        "cash_balance_fen",
        "gift_balance_fen",
        "penalties_fen",
        "refund_fen",
        "refund_now_fen",
        "reserve_fen",
        "forfeited_fen",
    ):
        assert key in q
    assert q["valid_until"].startswith("2026-11-24T02:15:00")
    w = body["warnings"][0]
    assert w["code"] == "UNBIND_INTERNET_ACCOUNTS" and w["message"] and w["message_en"]


def test_check_needs_the_lines_own_token(api: Api, client: TestClient) -> None:
    a, b = clean(), clean()
    api.import_lines(a, b)
    r = client.get(f"/api/v1/lines/{a['msisdn']}/cancellation-check")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
    api.sign_in(b["msisdn"])
    r = client.get(f"/api/v1/lines/{a['msisdn']}/cancellation-check", headers=api.auth(b["msisdn"]))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_cancel_read_and_reverse(api: Api, client: TestClient, runtime: Runtime) -> None:
    rec = clean()
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    r = api.cancel(rec, api.check(m))
    assert r.status_code == 201, r.text
    out = r.json()
    assert {
        "id",
        "reference",
        "status",
        "cancelled_at",
        "undo_until",
        "refund",
        "receipt_url",
    } <= set(out)
    assert out["status"] == "cancelled"
    assert out["refund"]["refund_now_fen"] == 15467 and out["refund"]["reserve_fen"] == 2133
    got = client.get(f"/api/v1/cancellations/{out['id']}", headers=api.auth(m)).json()
    assert got["account_status"] == "settling" and got["settlement"] is None
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    assert "cancellation.completed" not in [s["kind"] for s in sms]  # the number is cancelled
    r = client.post(f"/api/v1/cancellations/{out['id']}/reversal", headers=api.auth(m))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    assert client.get(f"/api/v1/lines/{m}", headers=api.auth(m)).json()["status"] == "active"
    api.books()
    with runtime.sessions() as s:
        assert_books_consistent(s)


def test_a_cancelled_line_signs_in_again_to_reverse_within_the_window(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    rec = clean()
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    cancelled = api.cancel(rec, api.check(m)).json()
    cid, reference = cancelled["id"], cancelled["reference"]
    api.set_clock(T0 + dt.timedelta(hours=20))  # the first token expired long ago
    assert client.get(f"/api/v1/lines/{m}", headers=api.auth(m)).status_code == 401
    r = client.post("/api/v1/auth/otp", json={"msisdn": m})
    assert r.status_code == 409 and r.json()["code"] == "LINE_CANCELLED"  # no SMS to it
    api.sign_in_by_reference(rec, reference)
    line = client.get(f"/api/v1/lines/{m}", headers=api.auth(m))
    assert line.status_code == 200 and line.json()["status"] == "cancelled"
    [notice] = api.check(m)["blockers"]
    assert notice["code"] == "ALREADY_CANCELLED" and notice["remedy"]["action"] == "reverse"
    r = client.post(f"/api/v1/cancellations/{cid}/reversal", headers=api.auth(m))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    assert client.get(f"/api/v1/lines/{m}", headers=api.auth(m)).json()["status"] == "active"
    with runtime.sessions() as s:
        assert_books_consistent(s)


def test_after_the_undo_window_a_cancelled_line_cannot_sign_in(
    api: Api, client: TestClient
) -> None:
    rec = clean()
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    assert api.cancel(rec, api.check(m)).status_code == 201
    api.set_clock(T0 + dt.timedelta(hours=24, minutes=1))
    r = client.post("/api/v1/auth/otp", json={"msisdn": m})
    assert r.status_code == 409 and r.json()["code"] == "LINE_CANCELLED"
    r = client.post(
        "/api/v1/auth/token",
        json={"msisdn": m, "otp": "123456", "service_password": SERVICE_PASSWORD},
    )
    assert r.status_code == 401 and r.json()["code"] == "OTP_NOT_REQUESTED"


def test_other_lines_token_cannot_read_or_reverse(api: Api, client: TestClient) -> None:
    rec, other = clean(), clean()
    api.import_lines(rec, other)
    api.sign_in(rec["msisdn"])
    api.sign_in(other["msisdn"])
    cid = api.cancel(rec, api.check(rec["msisdn"])).json()["id"]
    theirs = api.auth(other["msisdn"])
    assert client.get(f"/api/v1/cancellations/{cid}", headers=theirs).status_code == 403
    r = client.post(f"/api/v1/cancellations/{cid}/reversal", headers=theirs)
    assert r.status_code == 403
    r = client.get("/api/v1/cancellations/nope", headers=theirs)
    assert r.status_code == 404 and r.json()["code"] == "CANCELLATION_NOT_FOUND"


def test_posting_for_another_line_is_forbidden(api: Api) -> None:
    rec, other = clean(), clean()
    api.import_lines(rec, other)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    api.tokens[rec["msisdn"]] = api.sign_in(other["msisdn"])["Authorization"].split()[1]
    r = api.cancel(rec, check)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_retry_with_same_key_replays_and_refunds_once(api: Api, runtime: Runtime) -> None:
    rec = clean()
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    first = api.cancel(rec, check, key="k-1")
    again = api.cancel(rec, check, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    card = {"kind": "bank_card", "account": "6222 0212 3456 7894"}
    other = api.cancel(rec, check, key="k-1", refund_route=card)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Refund)) == 1


def test_blocked_answer_lists_blockers_and_the_refusal_is_kept(api: Api, runtime: Runtime) -> None:
    rec = clean(
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        bank_collection_pending=True,
    )
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    r = api.cancel(rec, check, key="blocked-1")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "CANCELLATION_BLOCKED"
    assert [b["code"] for b in body["blockers"]] == ["ARREARS", "BANK_COLLECTION_PENDING"]
    with runtime.sessions() as s:
        [refusal] = s.scalars(select(Refusal)).all()
        assert refusal.codes == ["ARREARS", "BANK_COLLECTION_PENDING"]
        assert (
            s.scalar(select(func.count()).where(AuditEvent.action == "cancellation.refused")) == 1
        )
    # The key was not spent on the refusal: once the debt is paid the same key works.
    pay = api.client.post(
        f"/api/v1/lines/{rec['msisdn']}/payments",
        json={"amount_fen": 3800},
        headers=api.auth(rec["msisdn"]),
    )
    assert pay.status_code == 201, pay.text
    again = api.cancel(rec, check, key="blocked-1")
    assert again.status_code == 409
    assert [b["code"] for b in again.json()["blockers"]] == ["BANK_COLLECTION_PENDING"]


def test_errors_of_the_final_step(api: Api) -> None:
    rec = clean()
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    r = api.cancel(rec, check, real_name={"name": "某某", "id_number": rec["owner"]["id_number"]})
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH"
    # A resident ID whose check character is wrong is nobody's: named as such, not a guess.
    wrong = rec["owner"]["id_number"][:17] + ("1" if rec["owner"]["id_number"][17] != "1" else "2")
    r = api.cancel(rec, check, real_name={"name": rec["owner"]["name"], "id_number": wrong})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    assert r.json()["errors"][0]["field"] == "real_name.id_number"
    assert "check character" in r.json()["errors"][0]["reason"]
    r = api.cancel(rec, check, acknowledged_warnings=[])
    assert r.status_code == 422 and r.json()["code"] == "WARNINGS_NOT_ACKNOWLEDGED"
    assert "UNBIND_INTERNET_ACCOUNTS" in r.json()["missing"]
    r = api.cancel(rec, check, quote_id="0" * 32)
    assert r.status_code == 404 and r.json()["code"] == "QUOTE_NOT_FOUND"
    r = api.cancel(rec, check, refund_route={"kind": "transfer"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    api.set_clock(T0 + dt.timedelta(minutes=16))
    r = api.cancel(rec, check)
    assert r.status_code == 409 and r.json()["code"] == "QUOTE_EXPIRED"


def test_second_cancellation_is_already_cancelled(api: Api) -> None:
    rec = clean()
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    check = api.check(rec["msisdn"])
    assert api.cancel(rec, check).status_code == 201
    r = api.cancel(rec, check)
    assert r.status_code == 409 and r.json()["code"] == "ALREADY_CANCELLED"
    body = api.check(rec["msisdn"])
    assert body["eligible"] is False and body["quote"] is None
    assert body["blockers"][0]["code"] == "ALREADY_CANCELLED"


def test_transfer_refund_over_http(api: Api, runtime: Runtime) -> None:
    person = owner()
    rec, other = clean(owner=person), clean(owner=person)
    api.import_lines(rec, other)
    api.sign_in(rec["msisdn"])
    route = {"kind": "transfer", "to_msisdn": other["msisdn"]}
    r = api.cancel(rec, api.check(rec["msisdn"]), refund_route=route)
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["route"] == route
    with runtime.sessions() as s:
        assert_books_consistent(s)


def test_close_cycle_endpoint_validates_the_period(api: Api, client: TestClient) -> None:
    r = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-13"})
    assert r.status_code == 422 and r.json()["code"] == "PERIOD_INVALID"
    r = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"})
    assert r.status_code == 409 and r.json()["code"] == "PERIOD_NOT_ENDED"
    api.set_clock(dt.datetime(2026, 12, 1, 0, 0, tzinfo=T0.tzinfo))
    r = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"})
    assert r.status_code == 200 and r.json()["settled"] == 0


def test_openapi_documents_the_cancellation_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    post = paths["/api/v1/cancellations"]["post"]
    assert {"201", "403", "409", "422"} <= set(post["responses"])
    assert "CANCELLATION_BLOCKED" in post["responses"]["409"]["description"]
    for path in (
        "/api/v1/lines/{msisdn}/cancellation-check",
        "/api/v1/cancellations/{cancellation_id}",
        "/api/v1/cancellations/{cancellation_id}/reversal",
        "/api/v1/sandbox/runs/close-cycle",
        "/api/v1/sandbox/usage",
    ):
        assert path in paths
