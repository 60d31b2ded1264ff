"""The request layer over HTTP: body limits, NUL characters, unreadable bodies, non-ASCII
digits, 405's Allow header and the audit check on the served engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.served.flows import add_line, latest_code, sign_in
from tests.served.harness import Served

MIB = 1024 * 1024


def assert_problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["code"] == code and body["status"] == status, body
    return body


def test_audit_verify_answers_on_the_served_engine(server: Served) -> None:
    add_line(server)
    token = sign_in(server, add_line(server)["msisdn"])  # sign-ins are audited
    assert token
    r = server.get("/api/v1/admin/audit/verify")
    assert r.status_code == 200, r.text
    assert r.json()["intact"] is True and r.json()["events"] >= 1


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(server: Served) -> None:
    body = b'{"msisdn": "' + b"1" * (2 * MIB) + b'"}'
    r = server.http.post(
        "/api/v1/auth/otp", content=body, headers={"content-type": "application/json"}
    )
    problem = assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
    assert problem["limit_bytes"] == MIB and str(MIB) in problem["detail"]
    assert server.get("/healthz").status_code == 200  # the client carries on


def test_a_streamed_body_is_cut_off_at_the_limit(server: Served) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        nonlocal sent
        yield b'{"msisdn": "'
        for _ in range(64):
            sent += 64 * 1024
            yield b"1" * (64 * 1024)
        yield b'"}'

    r = server.http.post(
        "/api/v1/auth/otp", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")


def test_the_line_import_has_its_own_larger_limit(server: Served) -> None:
    record = json.dumps({"msisdn": "13800000000", "padding": "x" * (2 * MIB)})
    r = server.http.post(
        "/api/v1/sandbox/lines", content=record, headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code != 413, r.text  # read and judged on its content, not its size
    assert r.status_code < 500, r.text


def test_a_nul_in_a_path_parameter_is_404_not_a_crash(server: Served) -> None:
    record = add_line(server)
    token = sign_in(server, record["msisdn"])
    r = server.get("/api/v1/cancellations/a%00b", token=token)
    body = assert_problem(r, 404, "NOT_FOUND")
    assert body["errors"][0]["field"] == "path"
    r = server.post("/api/v1/cancellations/a%00b/reversal", token=token)
    assert_problem(r, 404, "NOT_FOUND")


def test_a_nul_in_a_json_string_names_the_field(server: Served) -> None:
    record = add_line(server)
    token = sign_in(server, record["msisdn"])
    body = {
        "msisdn": record["msisdn"],
        "quote_id": "q",
        "real_name": {"name": "张\x00三", "id_number": record["owner"]["id_number"]},
        "refund_route": {"kind": "bank_card", "account": "6222\x000000"},
        "acknowledged_warnings": [],
    }
    r = server.post("/api/v1/cancellations", body, token=token)
    problem = assert_problem(r, 422, "VALIDATION_FAILED")
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"real_name.name", "refund_route.account"}, problem


def test_a_nul_in_a_query_value_names_the_parameter(server: Served) -> None:
    r = server.get("/api/v1/sandbox/sms?msisdn=138%0000")
    problem = assert_problem(r, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["field"] == "query.msisdn"


def test_a_nul_in_an_imported_record_names_the_line_and_field(server: Served) -> None:
    lines = "\n".join(
        [json.dumps({"msisdn": "13800000001"}), json.dumps({"owner": {"name": "a\x00"}})]
    )
    r = server.http.post(
        "/api/v1/sandbox/lines", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    problem = assert_problem(r, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["field"] == "line 2: owner.name"


def test_deeply_nested_json_is_malformed_not_a_crash(server: Served) -> None:
    for body in ("[" * 1000 + "]" * 1000, '{"msisdn": ' + "[" * 100000 + "]" * 100000 + "}"):
        r = server.http.post(
            "/api/v1/auth/otp", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code in (400, 422), r.text
        assert r.json()["code"] in ("MALFORMED_JSON", "VALIDATION_FAILED")


def test_invalid_utf8_is_malformed_json_with_the_problem_fields(server: Served) -> None:
    r = server.http.post(
        "/api/v1/auth/otp",
        content=b'{"msisdn": "1380013\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 400, "MALFORMED_JSON")


def test_non_ascii_digits_are_refused_and_spend_no_attempt(server: Served) -> None:
    record = add_line(server)
    msisdn = record["msisdn"]
    arabic = "1" + "".join(chr(0x0660 + int(d)) for d in msisdn[1:])
    full_width = "1" + "".join(chr(0xFF10 + int(d)) for d in msisdn[1:])
    for number in (arabic, full_width):
        r = server.post("/api/v1/auth/otp", {"msisdn": number})
        assert_problem(r, 422, "VALIDATION_FAILED")
    r = server.post("/api/v1/auth/otp", {"msisdn": msisdn})
    assert r.status_code == 202, r.text
    code = latest_code(server, msisdn)
    assert code is not None
    wide_code = "".join(chr(0xFF10 + int(d)) for d in code)
    for _ in range(6):  # more than the five failures that would lock sign-in
        r = server.post(
            "/api/v1/auth/token",
            {"msisdn": msisdn, "otp": wide_code, "service_password": "135790"},
        )
        assert_problem(r, 422, "VALIDATION_FAILED")
    r = server.post(
        "/api/v1/auth/token", {"msisdn": msisdn, "otp": code, "service_password": "135790"}
    )
    assert r.status_code == 200, r.text


def test_405_names_every_method_of_the_path(server: Served) -> None:
    r = server.request("PATCH", "/api/v1/sandbox/clock")
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "PUT", "DELETE"}
    r = server.get("/api/v1/auth/otp")
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "POST"
