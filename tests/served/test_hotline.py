"""The hotline against a served process (both engines): the caller reads back the code, the
agent's session serves the call, and the records name the agent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.factories import SERVICE_PASSWORD
from tests.served.flows import add_line, check, latest_code, sign_in
from tests.served.harness import Served
from tests.served.staffing import add_staff
from xiaohu.cancellation.models import Cancellation
from xiaohu.kit.db import make_engine


def open_session(server: Served, agent: str, msisdn: str, otp: str | None = None) -> Any:
    if otp is None:
        r = server.post("/api/v1/auth/otp", {"msisdn": msisdn})
        assert r.status_code == 202, r.text
        otp = latest_code(server, msisdn)
    body = {"msisdn": msisdn, "otp": otp, "service_password": SERVICE_PASSWORD}
    return server.post("/api/v1/hotline/sessions", body, token=agent)


def test_a_hotline_cancellation_story(server: Served) -> None:
    agent = add_staff(server, "bj.hotline.story")
    rec = add_line(
        server,
        province="11",
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        balance={"cash_fen": 20000, "gift_fen": 0},
    )
    m = rec["msisdn"]
    r = open_session(server, agent, m)
    assert r.status_code == 200, r.text
    assert r.json()["channel"] == "hotline" and r.json()["expires_in"] == 1800
    token = r.json()["access_token"]

    blockers = check(server, m, token)["blockers"]
    assert [b["code"] for b in blockers] == ["ARREARS"]
    remedy = blockers[0]["remedy"]
    r = server.post(
        remedy["href"],
        {"amount_fen": remedy["amount_fen"]},
        token=token,
        headers={"Idempotency-Key": "hotline-pay-1"},
    )
    assert r.status_code == 201, r.text
    quote = check(server, m, token)
    assert quote["eligible"] is True
    body = {
        "msisdn": m,
        "quote_id": quote["quote"]["quote_id"],
        "real_name": {"name": rec["owner"]["name"], "id_number": rec["owner"]["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w["code"] for w in quote["warnings"]],
    }
    r = server.post(
        "/api/v1/cancellations", body, token=token, headers={"Idempotency-Key": "hotline-c-1"}
    )
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["status"] == "cancelled" and done["refund"]["route"]["kind"] == "original"
    assert done["refund"]["refund_now_fen"] > 0
    assert server.get(f"/api/v1/cancellations/{done['id']}", token=token).status_code == 200

    engine = make_engine(server.database_url)
    try:
        with Session(engine) as s:
            row = s.get(Cancellation, done["id"])
            assert row is not None and (row.channel, row.staff_login) == (
                "hotline",
                "bj.hotline.story",
            )
    finally:
        engine.dispose()
    # The line's audit trail, read with the same token, names the agent.
    r = server.get(f"/api/v1/lines/{m}/audit", token=token)
    assert r.status_code == 200, r.text
    who = "hotline_agent:bj.hotline.story"
    by_agent = {e["action"] for e in r.json()["events"] if e["actor"] == who}
    assert {"hotline.session_opened", "cancellation.completed"} <= by_agent
    assert any(a.startswith("payment") for a in by_agent)

    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True
    assert server.get("/api/v1/admin/audit/verify").json()["intact"] is True


def test_wrong_codes_fail_then_lock_the_line(server: Served) -> None:
    agent = add_staff(server, "bj.hotline.lock")
    rec = add_line(server, province="11")
    m = rec["msisdn"]
    r = server.post("/api/v1/auth/otp", {"msisdn": m})
    assert r.status_code == 202
    code = latest_code(server, m)
    wrong = "000000" if code != "000000" else "111111"
    answers = [open_session(server, agent, m, wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert answers[0].json()["code"] == "VERIFICATION_FAILED"
    assert answers[-1].json()["code"] == "VERIFICATION_LOCKED"
    # The lock-out was kept (committed with the refusal): the right code is refused now.
    r = open_session(server, agent, m, code)
    assert r.status_code == 429, r.text
    # A subscriber's own token is not an agent's.
    other = add_line(server, province="11")
    own = sign_in(server, other["msisdn"])
    assert open_session(server, own, other["msisdn"], "123456").status_code == 403
