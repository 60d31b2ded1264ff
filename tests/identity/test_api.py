"""Sign-in over HTTP: SMS through the sandbox gateway, time through the sandbox test clock."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import SERVICE_PASSWORD, line_record, load
from xiaohu.audit.models import AuditEvent
from xiaohu.identity.models import SignInState
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime

MSISDN = "13800138000"
OTHER = "13800138001"
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def set_clock(client: TestClient, at: dt.datetime) -> None:
    assert client.put("/api/v1/sandbox/clock", json={"now": at.isoformat()}).status_code == 200


def ask_code(client: TestClient, msisdn: str = MSISDN) -> str:
    r = client.post("/api/v1/auth/otp", json={"msisdn": msisdn})
    assert r.status_code == 202, r.text
    assert r.json() == {"expires_in": 300}
    return latest_code(client, msisdn)


def latest_code(client: TestClient, msisdn: str = MSISDN) -> str:
    messages = client.get("/api/v1/sandbox/sms", params={"msisdn": msisdn}).json()["messages"]
    assert messages and messages[0]["kind"] == "otp"
    found = re.search(r"验证码为(\d{6})", messages[0]["text"])
    assert found is not None, messages[0]["text"]
    return found.group(1)


def sign_in(
    client: TestClient, code: str, password: str = SERVICE_PASSWORD, msisdn: str = MSISDN
) -> dict[str, Any]:
    r = client.post(
        "/api/v1/auth/token", json={"msisdn": msisdn, "otp": code, "service_password": password}
    )
    body: dict[str, Any] = r.json()
    body["_status"] = r.status_code
    return body


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture()
def lines(ctx: Context, client: TestClient) -> list[Line]:
    loaded = load(ctx, line_record(msisdn=MSISDN), line_record(msisdn=OTHER))
    ctx.session.commit()
    set_clock(client, T0)
    return loaded


def test_full_sign_in_and_the_line_view(client: TestClient, lines: list[Line]) -> None:
    code = ask_code(client)
    text = client.get("/api/v1/sandbox/sms", params={"msisdn": MSISDN}).json()["messages"][0]
    assert "5分钟内有效" in text["text"] and "请勿" in text["text"]
    body = sign_in(client, code)
    assert body["_status"] == 200, body
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    r = client.get(
        f"/api/v1/lines/{MSISDN}", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert r.status_code == 200
    assert r.json()["msisdn"] == MSISDN


def test_code_expires_after_five_minutes(client: TestClient, lines: list[Line]) -> None:
    code = ask_code(client)
    set_clock(client, T0 + dt.timedelta(seconds=299))
    # still valid one second before: prove it with the wrong password (the code is kept)
    assert sign_in(client, code, "000000")["code"] == "VERIFICATION_FAILED"
    set_clock(client, T0 + dt.timedelta(minutes=5))
    body = sign_in(client, code)
    assert (body["_status"], body["code"]) == (401, "OTP_NOT_REQUESTED")


def test_resend_throttled_then_allowed(client: TestClient, lines: list[Line]) -> None:
    ask_code(client)
    set_clock(client, T0 + dt.timedelta(seconds=30))
    r = client.post("/api/v1/auth/otp", json={"msisdn": MSISDN})
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "OTP_THROTTLED"
    assert r.headers["Retry-After"] == "30" and r.json()["retry_after"] == 30
    set_clock(client, T0 + dt.timedelta(seconds=60))
    code = ask_code(client)
    assert sign_in(client, code)["_status"] == 200


def test_code_single_use(client: TestClient, lines: list[Line]) -> None:
    code = ask_code(client)
    assert sign_in(client, code)["_status"] == 200
    body = sign_in(client, code)
    assert (body["_status"], body["code"]) == (401, "OTP_NOT_REQUESTED")


def test_five_failures_lock_then_unlock(client: TestClient, lines: list[Line]) -> None:
    code = ask_code(client)
    for attempt in range(1, 5):
        body = sign_in(client, other_code(code))
        assert (body["_status"], body["code"]) == (401, "VERIFICATION_FAILED"), attempt
        assert body["attempts_left"] == 5 - attempt
    body = sign_in(client, other_code(code))
    assert (body["_status"], body["code"]) == (429, "VERIFICATION_LOCKED")
    assert dt.datetime.fromisoformat(body["locked_until"]) == T0 + dt.timedelta(minutes=30)
    # the right factors do not help while locked, nor does a new code
    assert sign_in(client, code)["code"] == "VERIFICATION_LOCKED"
    r = client.post("/api/v1/auth/otp", json={"msisdn": MSISDN})
    assert (r.status_code, r.json()["code"]) == (429, "VERIFICATION_LOCKED")
    assert int(r.headers["Retry-After"]) == 30 * 60
    set_clock(client, T0 + dt.timedelta(minutes=29, seconds=59))
    assert sign_in(client, code)["code"] == "VERIFICATION_LOCKED"
    set_clock(client, T0 + dt.timedelta(minutes=30))
    assert sign_in(client, ask_code(client))["_status"] == 200


def test_failures_are_committed_despite_the_error_answer(
    client: TestClient, runtime: Runtime, lines: list[Line]
) -> None:
    """The commit point: a failed sign-in answers 401 yet its count and audit survive."""
    ask_code(client)
    assert (
        sign_in(client, "999999" if latest_code(client) != "999999" else "888888")["_status"] == 401
    )
    with runtime.sessions() as fresh:
        s = fresh.get(SignInState, lines[0].id)
        assert s is not None and s.failures == 1
        acts = fresh.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == f"line:{MSISDN}")
        ).all()
        assert "auth.failed" in acts


def test_locked_count_survives_between_requests(
    client: TestClient, runtime: Runtime, lines: list[Line]
) -> None:
    code = ask_code(client)
    for _ in range(5):
        sign_in(client, other_code(code))
    with runtime.sessions() as fresh:
        s = fresh.get(SignInState, lines[0].id)
        assert s is not None
        assert s.failures == 5
        assert s.locked_until == (T0 + dt.timedelta(minutes=30)).astimezone(dt.UTC)
        acts = fresh.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == f"line:{MSISDN}")
        ).all()
        assert acts.count("auth.failed") == 5 and acts.count("auth.locked") == 1


def test_token_acts_only_on_its_own_line(client: TestClient, lines: list[Line]) -> None:
    token = sign_in(client, ask_code(client))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get(f"/api/v1/lines/{OTHER}", headers=auth)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")
    assert client.get(f"/api/v1/lines/{OTHER}/audit", headers=auth).status_code == 403
    assert client.get(f"/api/v1/lines/{MSISDN}", headers=auth).status_code == 200


def test_expired_token_is_401(client: TestClient, lines: list[Line]) -> None:
    token = sign_in(client, ask_code(client))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    set_clock(client, T0 + dt.timedelta(seconds=1799))
    assert client.get(f"/api/v1/lines/{MSISDN}", headers=auth).status_code == 200
    set_clock(client, T0 + dt.timedelta(seconds=1800))
    r = client.get(f"/api/v1/lines/{MSISDN}", headers=auth)
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_missing_or_forged_token_is_401(client: TestClient, lines: list[Line]) -> None:
    assert client.get(f"/api/v1/lines/{MSISDN}").status_code == 401
    token = sign_in(client, ask_code(client))["access_token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = client.get(f"/api/v1/lines/{MSISDN}", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_imported_password_upgraded_after_first_sign_in(
    client: TestClient, runtime: Runtime, lines: list[Line]
) -> None:
    with runtime.sessions() as fresh:
        before = fresh.get(Line, lines[0].id)
        assert before is not None and before.service_password_hash is not None
        assert before.service_password_hash.startswith("hmac$")
    assert sign_in(client, ask_code(client))["_status"] == 200
    with runtime.sessions() as fresh:
        after = fresh.get(Line, lines[0].id)
        assert after is not None and after.service_password_hash is not None
        assert after.service_password_hash.startswith("$argon2id$")
    # and the same password still signs in against the new hash
    set_clock(client, T0 + dt.timedelta(minutes=2))
    assert sign_in(client, ask_code(client))["_status"] == 200


def test_unknown_line_gets_404_on_otp(client: TestClient, lines: list[Line]) -> None:
    r = client.post("/api/v1/auth/otp", json={"msisdn": "13900000000"})
    assert (r.status_code, r.json()["code"]) == (404, "LINE_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"msisdn": "1380013800", "otp": "123456", "service_password": "135790"}, "msisdn"),
        ({"msisdn": MSISDN, "otp": "12345", "service_password": "135790"}, "otp"),
        ({"msisdn": MSISDN, "otp": "12345a", "service_password": "135790"}, "otp"),
        ({"msisdn": MSISDN, "otp": "123456", "service_password": "1357"}, "service_password"),
        ({"msisdn": MSISDN, "otp": "123456"}, "service_password"),
    ],
)
def test_token_validation_names_the_field(
    client: TestClient,
    lines: list[Line],
    body: dict[str, Any],
    field: str,
) -> None:
    r = client.post("/api/v1/auth/token", json=body)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert [e["field"] for e in problem["errors"]] == [field]


def test_otp_validation_names_the_field(client: TestClient) -> None:
    r = client.post("/api/v1/auth/otp", json={"msisdn": "abc"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "msisdn"


def test_openapi_documents_the_sign_in_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    token = paths["/api/v1/auth/token"]["post"]["responses"]
    assert {"200", "401", "422", "429"} <= set(token)
    assert "202" in paths["/api/v1/auth/otp"]["post"]["responses"]
