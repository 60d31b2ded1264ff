"""The store routes over HTTP: who may call them, bad input refused with its code and nothing
written but the refusal's evidence, reading, receipts and the reversal with a clerk's token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cancellation.support import T0, Api
from tests.counter.support import OTHER_PROVINCE, STORE, Counter, Desk, beijing, documents, person
from xiaohu import principals
from xiaohu.audit.models import AuditEvent
from xiaohu.billing.models import Payment, Refund
from xiaohu.cancellation.models import Cancellation, Refusal
from xiaohu.ledger.models import JournalTransaction
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime

TABLES = (Cancellation, Refusal, Payment, Refund, JournalTransaction, AuditEvent)


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as s:
        return {t.__tablename__: _count(s, t) for t in TABLES}


def _count(s: Session, table: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(table)) or 0)


def checked(at: Counter, rec: dict[str, Any]) -> dict[str, Any]:
    r = at.check(rec)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# A clerk of another province may (cross-region: tests/interprovince).
@pytest.mark.parametrize("who", ["none", "line", "hotline_line", "hotline_agent"])
def test_only_a_clerk_may_use_the_store_routes(
    who: str, api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    check = checked(Counter(client, desk.clerk), rec)
    headers: dict[str, str] = {}
    if who == "line":
        headers = api.sign_in(m)
    elif who == "hotline_line":
        with runtime.sessions() as s:
            line_id = s.scalars(select(Line.id).where(Line.msisdn == m)).one()
        token = principals.issue_hotline(
            runtime.settings.key, line_id, m, agent_id=1, agent_login="hl.zhao", now=T0,
            ttl_seconds=600,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
    elif who == "hotline_agent":
        headers = desk.agent
    before = counts(runtime)
    at = Counter(client, headers)
    answers = [
        at.check(rec),
        at.pay(m, 100),
        at.cancel(rec, check),
        client.post(
            f"/api/v1/store/lines/{m}/lost-state/lift",
            json={"documents": documents(rec)},
            headers=headers,
        ),
        at.drawer(),
    ]
    expected = (401, "UNAUTHENTICATED") if who == "none" else (403, "FORBIDDEN")
    for r in answers:
        assert (r.status_code, r.json()["code"]) == expected, (r.request.url, r.text)
    assert counts(runtime) == before


def test_bad_documents_each_get_their_code_and_write_only_evidence(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    at = Counter(client, desk.clerk)
    check = checked(at, rec)
    owner_id = rec["owner"]["id_number"]
    wrong_check = owner_id[:17] + ("0" if owner_id[17] != "0" else "1")

    before = counts(runtime)
    r = at.cancel(rec, check, {"owner": {**rec["owner"], "id_number": wrong_check}})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    assert r.json()["errors"][0]["field"] == "documents.owner.id_number"
    assert "check character" in r.json()["errors"][0]["reason"]
    r = at.cancel(rec, check, unknown="x")
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    r = at.cancel(rec, check, {"owner": rec["owner"], "passport": "E123"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    assert counts(runtime) == before  # a typo is nobody's: nothing at all is written

    r = at.cancel(rec, check, {"authorization_letter": {"reference": "WT-1"}})
    assert r.status_code == 422 and r.json()["code"] == "DOCUMENTS_MISSING", r.text
    assert r.json()["missing"] == ["owner", "agent"]
    r = at.cancel(rec, check, documents(rec, agent=dict(rec["owner"]), letter="WT-2"))
    assert r.status_code == 422 and r.json()["code"] == "AGENT_IS_OWNER", r.text
    after = counts(runtime)
    assert after["audit_events"] == before["audit_events"] + 2  # the evidence, and only it
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }

    stranger = person(rec["owner"]["name"])
    r = at.cancel(rec, check, {"owner": stranger})
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text
    r = at.cancel(rec, check, {"owner": {**rec["owner"], "name": "张冒名"}})
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text
    r = at.cancel(rec, check, {"owner": {**rec["owner"], "id_type": "passport"}})
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text
    with runtime.sessions() as s:
        assert _count(s, Cancellation) == 0 and _count(s, Refusal) == 0


def test_cash_refunds_are_for_the_store_channel_only(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    r = api.cancel(rec, api.check(m), refund_route={"kind": "cash"})
    assert r.status_code == 422 and r.json()["code"] == "REFUND_ROUTE_INVALID", r.text

    with runtime.sessions() as s:
        line_id = s.scalars(select(Line.id).where(Line.msisdn == m)).one()
    api.tokens[m] = principals.issue_hotline(
        runtime.settings.key, line_id, m, agent_id=1, agent_login="hl.zhao", now=T0,
        ttl_seconds=600,
    )  # fmt: skip
    r = api.cancel(rec, api.check(m), refund_route={"kind": "cash"})
    assert r.status_code == 422 and r.json()["code"] == "REFUND_ROUTE_INVALID", r.text
    with runtime.sessions() as s:
        assert _count(s, Cancellation) == 0


def test_a_clerk_reads_the_cancellation_and_its_receipt_and_reverses_it(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    at = Counter(client, desk.clerk)
    check = checked(at, rec)
    done = at.cancel(rec, check).json()
    refunded = done["refund"]["refund_now_fen"]
    assert refunded > 0
    url = f"/api/v1/cancellations/{done['id']}"

    r = client.get(url, headers=desk.clerk)
    assert r.status_code == 200 and r.json()["reference"] == done["reference"], r.text
    r = client.get(url, headers=desk.gz_clerk)  # any clerk: stores serve every province
    assert r.status_code == 200 and r.json()["reference"] == done["reference"], r.text
    r = client.get(url, headers=desk.agent)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    pdf = client.get(f"{url}/receipt.pdf", headers=desk.clerk)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:200]
    r = client.get(f"{url}/receipt.pdf", headers=desk.gz_clerk)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")

    r = client.post(f"{url}/reversal", headers=desk.clerk)
    assert r.status_code == 422 and r.json()["code"] == "DOCUMENTS_MISSING", r.text
    assert r.json()["missing"] == ["owner"]
    r = client.post(f"{url}/reversal", json={"documents": documents(rec)}, headers=desk.agent)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = client.post(f"{url}/reversal", json={"documents": documents(rec)}, headers=desk.clerk)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    with runtime.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == m)).one()
        # The cash handed over stays handed over: the line keeps only the reserve.
        assert line.status == "active"
        assert line.cash_fen == 20000 - refunded
        actor = s.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "cancellation.reversed")
        ).one()
    assert actor == "clerk:bj.wang"
    report = at.drawer().json()
    assert report["cash_out_fen"] == refunded and report["reconciled"] is True


def test_a_line_token_reverses_with_no_body_and_refuses_documents(
    api: Api, client: TestClient, desk: Desk
) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    done = api.cancel(rec, api.check(m)).json()
    url = f"/api/v1/cancellations/{done['id']}/reversal"
    r = client.post(url, json={"documents": documents(rec)}, headers=api.auth(m))
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    r = client.post(url, headers=api.auth(m))
    assert r.status_code == 200 and r.json()["status"] == "reversed", r.text


def test_the_drawer_is_the_clerks_own_store(api: Api, client: TestClient, desk: Desk) -> None:
    at = Counter(client, desk.clerk)
    r = at.drawer(store_code=OTHER_PROVINCE)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = at.drawer(store_code=STORE)
    assert r.status_code == 200 and r.json()["reconciled"] is True
    r = at.drawer(date="2026-13-01")
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


def test_a_card_payment_goes_through_the_gateway_not_the_drawer(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    at = Counter(client, desk.clerk)
    r = at.pay(rec["msisdn"], 5000, "card")
    assert r.status_code == 201 and r.json()["cash_balance_fen"] == 25000, r.text
    with runtime.sessions() as s:
        p = s.scalars(select(Payment)).one()
    assert (p.store_code, p.method, p.staff_login) == (STORE, "card", "bj.wang")
    assert p.gateway != "store_drawer" and p.gateway_ref
    assert at.drawer().json()["movements"] == []
    r = at.pay(rec["msisdn"], 5000, "cheque")
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


def test_a_retried_cash_payment_or_cancellation_acts_once(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    headers = {**desk.clerk, "Idempotency-Key": "drawer-pay-1"}
    body = {"msisdn": m, "amount_fen": 1000, "method": "cash"}
    first = client.post("/api/v1/store/payments", json=body, headers=headers)
    again = client.post("/api/v1/store/payments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    r = client.post("/api/v1/store/payments", json={**body, "amount_fen": 2000}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "IDEMPOTENCY_KEY_REUSED", r.text

    at = Counter(client, desk.clerk)
    check = checked(at, rec)
    one = at.cancel(rec, check, key="counter-cancel-1")
    two = at.cancel(rec, check, key="counter-cancel-1")
    assert one.status_code == two.status_code == 201, two.text
    assert two.json()["id"] == one.json()["id"]
    report = at.drawer().json()
    assert report["cash_in_fen"] == 1000
    assert report["cash_out_fen"] == one.json()["refund"]["refund_now_fen"]
    with runtime.sessions() as s:
        assert _count(s, Payment) == 1 and _count(s, Cancellation) == 1


def test_a_counter_refund_may_go_to_the_owners_other_line(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    other = beijing(owner=rec["owner"], balance={"cash_fen": 100, "gift_fen": 0})
    api.import_lines(rec, other)
    at = Counter(client, desk.clerk)
    check = checked(at, rec)
    route = {"kind": "transfer", "to_msisdn": other["msisdn"]}
    r = at.cancel(rec, check, refund_route=route)
    assert r.status_code == 201, r.text
    refunded = r.json()["refund"]["refund_now_fen"]
    with runtime.sessions() as s:
        target = s.scalars(select(Line).where(Line.msisdn == other["msisdn"])).one()
    assert target.cash_fen == 100 + refunded
    assert at.drawer().json()["movements"] == []  # nothing left the drawer
