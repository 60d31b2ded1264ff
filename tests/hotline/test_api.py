"""The hotline over HTTP: an agent opens a session with what the caller reads back, and the
online endpoints serve the call, every event naming the agent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api, body_for, checked_api
from tests.factories import SERVICE_PASSWORD, line_record, owner
from tests.hotline.support import bearer, send_code, staff
from xiaohu.audit.models import AuditEvent
from xiaohu.cancellation.models import Cancellation, Refusal
from xiaohu.runtime import Runtime

AGENT = "bj.hotline"


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


@pytest.fixture()
def agent(runtime: Runtime) -> str:
    return staff(runtime, login=AGENT)


def session_for(api: Api, agent: str, msisdn: str, *, otp: str | None = None) -> Any:
    code = otp if otp is not None else send_code(api, msisdn)
    body = {"msisdn": msisdn, "otp": code, "service_password": SERVICE_PASSWORD}
    return api.client.post("/api/v1/hotline/sessions", json=body, headers=bearer(agent))


def events(runtime: Runtime, msisdn: str) -> list[AuditEvent]:
    with runtime.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject == f"line:{msisdn}")
                .order_by(AuditEvent.id)
            )
        )


def test_a_hotline_cancellation_names_the_agent(api: Api, agent: str, runtime: Runtime) -> None:
    rec = line_record(
        province="11",
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        balance={"cash_fen": 20000, "gift_fen": 0},
    )
    api.import_lines(rec)
    m = rec["msisdn"]
    r = session_for(api, agent, m)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["channel"] == "hotline" and out["msisdn"] == m and out["token_type"] == "bearer"
    assert out["expires_in"] == 1800  # the policy's token_ttl_seconds, as short as online's
    api.tokens[m] = out["access_token"]

    check = api.check(m)
    assert [b["code"] for b in check["blockers"]] == ["ARREARS"]
    remedy = check["blockers"][0]["remedy"]
    paid = api.client.post(remedy["href"], json={"amount_fen": 3800}, headers=api.auth(m))
    assert paid.status_code == 201, paid.text
    check = api.check(m)
    assert check["eligible"] is True

    r = api.cancel(rec, check, key="hotline-1")
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["refund"]["route"]["kind"] == "original"
    assert done["refund"]["refund_now_fen"] > 0
    with runtime.sessions() as s:
        row = s.get(Cancellation, done["id"])
        assert row is not None
        assert (row.channel, row.staff_login) == ("hotline", AGENT)

    actors = {(e.action, e.actor) for e in events(runtime, m)}
    who = f"hotline_agent:{AGENT}"
    assert ("hotline.session_opened", who) in actors
    assert ("cancellation.completed", who) in actors
    assert any(actor == who and action.startswith("payment") for action, actor in actors)
    assert ("auth.otp_sent", who) not in actors  # the caller asked the code, not the agent

    # The reversal works with the same token, and is the agent's too.
    r = api.client.post(f"/api/v1/cancellations/{done['id']}/reversal", headers=api.auth(m))
    assert r.status_code == 200, r.text
    assert ("cancellation.reversed", who) in {(e.action, e.actor) for e in events(runtime, m)}


def test_wrong_codes_count_with_the_subscribers_own_and_lock_the_line(api: Api, agent: str) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    m = rec["msisdn"]
    code = send_code(api, m)
    wrong = "000000" if code != "000000" else "111111"
    # Two wrong tries online, then three over the phone: five in all, one lock-out.
    for _ in range(2):
        body = {"msisdn": m, "otp": wrong, "service_password": SERVICE_PASSWORD}
        assert api.client.post("/api/v1/auth/token", json=body).status_code == 401
    r = session_for(api, agent, m, otp=wrong)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "VERIFICATION_FAILED" and r.json()["attempts_left"] == 2
    assert session_for(api, agent, m, otp=wrong).status_code == 401
    r = session_for(api, agent, m, otp=wrong)
    assert r.status_code == 429 and r.json()["code"] == "VERIFICATION_LOCKED"
    # Locked for everyone: the right code no longer opens a session, nor signs in online.
    r = session_for(api, agent, m, otp=code)
    assert r.status_code == 429 and r.json()["code"] == "VERIFICATION_LOCKED"
    body = {"msisdn": m, "otp": code, "service_password": SERVICE_PASSWORD}
    assert api.client.post("/api/v1/auth/token", json=body).status_code == 429


def test_a_wrong_service_password_is_a_failure_too(api: Api, agent: str) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    code = send_code(api, rec["msisdn"])
    body = {"msisdn": rec["msisdn"], "otp": code, "service_password": "999999"}
    r = api.client.post("/api/v1/hotline/sessions", json=body, headers=bearer(agent))
    assert r.status_code == 401 and r.json()["code"] == "VERIFICATION_FAILED"


def test_another_provinces_line_is_forbidden_and_spends_no_attempt(
    api: Api, agent: str, runtime: Runtime
) -> None:
    rec = line_record(province="44")
    api.import_lines(rec)
    m = rec["msisdn"]
    code = send_code(api, m)
    wrong = "000000" if code != "000000" else "111111"
    r = session_for(api, agent, m, otp=wrong)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    assert not [e for e in events(runtime, m) if e.action == "auth.failed"]
    guangdong = staff(runtime, login="gz.hotline", province="44")
    assert session_for(api, guangdong, m, otp=code).status_code == 200


def test_only_a_hotline_agent_opens_sessions(api: Api, runtime: Runtime) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    api.set_clock(T0 + dt.timedelta(seconds=61))  # past the resend throttle
    code = send_code(api, m)
    body = {"msisdn": m, "otp": code, "service_password": SERVICE_PASSWORD}
    url = "/api/v1/hotline/sessions"
    own = api.client.post(url, json=body, headers=api.auth(m))
    assert own.status_code == 403 and own.json()["code"] == "FORBIDDEN"
    clerk = staff(runtime, login="bj.clerk", role="clerk", store_code="11-BJ-0001")
    r = api.client.post(url, json=body, headers=bearer(clerk))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = api.client.post(url, json=body)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_a_hotline_token_acts_on_its_line_only(api: Api, agent: str) -> None:
    a, b = line_record(province="11"), line_record(province="11")
    api.import_lines(a, b)
    r = session_for(api, agent, a["msisdn"])
    token = r.json()["access_token"]
    r = api.client.get(f"/api/v1/lines/{b['msisdn']}/cancellation-check", headers=bearer(token))
    assert r.status_code == 403


def test_a_hotline_refusal_is_logged_as_the_agents(api: Api, agent: str, runtime: Runtime) -> None:
    rec = line_record(
        province="11", bank_collection_pending=True, balance={"cash_fen": 30000, "gift_fen": 0}
    )
    api.import_lines(rec)
    m = rec["msisdn"]
    api.tokens[m] = session_for(api, agent, m).json()["access_token"]
    check = api.check(m)
    r = api.cancel(rec, check)
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED"
    with runtime.sessions() as s:
        rows = s.scalars(select(Refusal).where(Refusal.channel == "hotline")).all()
        assert [x.staff_login for x in rows] == [AGENT]
    # The caller's evidence, read with the same session token.
    listed = api.client.get(f"/api/v1/lines/{m}/refusals", headers=api.auth(m)).json()
    assert [(x["channel"], x["codes"]) for x in listed["refusals"]] == [
        ("hotline", ["BANK_COLLECTION_PENDING"])
    ]


def test_the_hotline_keeps_the_online_document_rule(api: Api, agent: str) -> None:
    """A passport holder's line cannot be cancelled over the phone either: the owner is not
    seen, so it is a store's work, and the remedy names the stores."""
    rec = line_record(province="11", owner=owner(id_type="passport"))
    api.import_lines(rec)
    m = rec["msisdn"]
    api.tokens[m] = session_for(api, agent, m).json()["access_token"]
    blockers = {b["code"]: b for b in api.check(m)["blockers"]}
    assert "CHANNEL_NOT_ALLOWED" in blockers
    assert blockers["CHANNEL_NOT_ALLOWED"]["remedy"]["stores_href"].startswith("/api/v1/stores")


def test_a_hotline_refund_is_never_cash(api: Api, agent: str) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    m = rec["msisdn"]
    api.tokens[m] = session_for(api, agent, m).json()["access_token"]
    check = api.check(m)
    body = body_for(rec, check, refund_route={"kind": "cash"})
    r = api.client.post("/api/v1/cancellations", json=body, headers=api.auth(m))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "REFUND_ROUTE_INVALID"
