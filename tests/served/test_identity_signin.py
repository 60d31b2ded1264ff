"""Sign-in over the served process: no lock-out without a live code, per-client limits with
Retry-After, a limit on real-name guesses, and a cancelled number that receives no SMS but
signs in with its reference to read its settlement."""

from __future__ import annotations

from tests.factories import SERVICE_PASSWORD, owner
from tests.served.flows import add_line, cancel, check, latest_code, sign_in
from tests.served.harness import Served, serve


def _token(server: Served, msisdn: str, **factors: str) -> tuple[int, dict[str, object]]:
    r = server.post("/api/v1/auth/token", {"msisdn": msisdn, **factors})
    return r.status_code, r.json()


def test_wrong_tries_without_a_requested_code_do_not_lock_the_line(server: Served) -> None:
    msisdn = add_line(server)["msisdn"]
    for _ in range(6):
        status, body = _token(server, msisdn, otp="123456", service_password=SERVICE_PASSWORD)
        assert (status, body["code"]) == (401, "OTP_NOT_REQUESTED")
    assert sign_in(server, msisdn)  # the subscriber still signs in at once


def test_per_client_limits_answer_429_with_retry_after() -> None:
    env = {"XIAOHU_OTP_CLIENT_LIMIT": "3/minute", "XIAOHU_TOKEN_CLIENT_LIMIT": "4/minute"}
    with serve("sandbox", env) as server:
        numbers = [add_line(server)["msisdn"] for _ in range(4)]
        for m in numbers[:3]:
            assert server.post("/api/v1/auth/otp", {"msisdn": m}).status_code == 202
        r = server.post("/api/v1/auth/otp", {"msisdn": numbers[3]})
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert latest_code(server, numbers[3]) is None  # refused: nothing sent
        for _ in range(4):
            status, _body = _token(server, numbers[0], otp="000000", service_password="000000")
            assert status == 401
        r = server.post(
            "/api/v1/auth/token",
            {"msisdn": numbers[0], "otp": "000000", "service_password": "000000"},
        )
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
        assert int(r.headers["Retry-After"]) >= 1


def test_real_name_guesses_are_limited_per_line(server: Served) -> None:
    record = add_line(server)
    token = sign_in(server, record["msisdn"])
    quote = check(server, record["msisdn"], token)
    wrong = {"name": record["owner"]["name"], "id_number": owner()["id_number"]}
    for attempt in range(4):
        r = cancel(server, record, token, quote, real_name=wrong)
        assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", attempt
    r = cancel(server, record, token, quote, real_name=wrong)
    assert r.status_code == 429 and r.json()["code"] == "REAL_NAME_LOCKED"
    assert int(r.headers["Retry-After"]) > 0
    # the owner's own details are refused too until the window ends: guessing has stopped
    r = cancel(server, record, token, quote)
    assert r.status_code == 429 and r.json()["code"] == "REAL_NAME_LOCKED"


def _sms(server: Served, msisdn: str) -> list[dict[str, str]]:
    r = server.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
    messages: list[dict[str, str]] = r.json()["messages"]
    return messages


def test_a_cancelled_number_signs_in_with_its_reference_to_read_the_settlement(
    server: Served,
) -> None:
    holder = owner()
    funded = {"cash_fen": 20000, "gift_fen": 0}
    record = add_line(server, owner=holder, balance=funded)
    other = add_line(server, owner=holder, balance=funded)["msisdn"]
    msisdn = record["msisdn"]
    token = sign_in(server, msisdn)
    r = cancel(server, record, token, check(server, msisdn, token))
    assert r.status_code == 201, r.text
    cancellation = r.json()
    assert [m["kind"] for m in _sms(server, msisdn)] == ["otp"]  # nothing after the cancel
    notice = _sms(server, other)[0]
    assert notice["kind"] == "cancellation.completed"
    assert cancellation["reference"] in notice["text"]

    r = server.post("/api/v1/sandbox/usage", {"msisdn": msisdn, "amount_fen": 100_000})
    assert r.status_code == 201, r.text
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-12-01T10:00:00+08:00"}).is_success
    r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2026-11"})
    assert r.status_code == 200 and r.json()["settled"] == 1, r.text

    r = server.post("/api/v1/auth/otp", {"msisdn": msisdn})
    assert r.status_code == 409 and r.json()["code"] == "LINE_CANCELLED"
    factors = {
        "reference": cancellation["reference"],
        "service_password": SERVICE_PASSWORD,
        "id_number": holder["id_number"],
    }
    status, body = _token(server, msisdn, **{**factors, "reference": "XH-00-20260101-AAAAAA"})
    assert (status, body["code"]) == (401, "VERIFICATION_FAILED")
    status, body = _token(server, msisdn, **{**factors, "id_number": owner()["id_number"]})
    assert (status, body["code"]) == (401, "VERIFICATION_FAILED")
    status, body = _token(server, msisdn, **factors)
    assert status == 200, body
    r = server.get(f"/api/v1/cancellations/{cancellation['id']}", token=str(body["access_token"]))
    assert r.status_code == 200, r.text
    settlement = r.json()["settlement"]
    assert settlement is not None and settlement["shortfall_fen"] > 0
    assert [m["kind"] for m in _sms(server, msisdn)] == ["otp"]  # still nothing to it
    settled = _sms(server, other)[0]
    assert settled["kind"] == "cancellation.settled" and "尚欠" in settled["text"]
    # an active line cannot use the reference way in
    status, body = _token(server, other, **factors)
    assert (status, body["code"]) == (401, "VERIFICATION_FAILED")
