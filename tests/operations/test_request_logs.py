"""Request ids, the access log and masked numbers, in process (the app as `serve` builds it)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import msisdn, new_resident_id
from tests.operations.conftest import CapturedLog
from xiaohu.app import create_app
from xiaohu.operations.logs import configure_logging
from xiaohu.runtime import Runtime

log = logging.getLogger("tests.operations")


def with_crash(app: FastAPI) -> FastAPI:
    """A route that logs what it was given and then fails with it in the exception."""

    @app.post("/test-crash/{number}")
    def crash(number: str, body: dict[str, str]) -> None:
        log.warning("about to fail for %s", number)
        raise RuntimeError(f"gateway refused {number} (owner {body['id_number']})")

    return app


@pytest.fixture()
def app_client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(with_crash(create_app(runtime)), raise_server_exceptions=False) as c:
        yield c


def test_a_sane_request_id_is_returned_and_logged(
    app_client: TestClient, captured_log: CapturedLog
) -> None:
    r = app_client.get("/healthz", headers={"X-Request-ID": "trace-0001.a:b"})
    assert r.headers["X-Request-ID"] == "trace-0001.a:b"
    assert captured_log.access()[-1]["request_id"] == "trace-0001.a:b"


@pytest.mark.parametrize("sent", [None, "x" * 129, "two words", "a\tb"])
def test_a_missing_or_insane_request_id_is_replaced(
    app_client: TestClient, captured_log: CapturedLog, sent: str | None
) -> None:
    r = app_client.get("/healthz", headers={"X-Request-ID": sent} if sent else {})
    made = r.headers["X-Request-ID"]
    assert made and made != sent
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", made)
    assert captured_log.access()[-1]["request_id"] == made


def test_every_line_of_a_request_carries_its_id_even_a_crash(
    app_client: TestClient, captured_log: CapturedLog
) -> None:
    number = msisdn()
    body = {"id_number": new_resident_id()}
    r = app_client.post(f"/test-crash/{number}", json=body, headers={"X-Request-ID": "r-1"})
    assert r.status_code == 500
    assert r.json()["code"] == "INTERNAL_ERROR"
    assert r.headers["X-Request-ID"] == "r-1"
    lines = captured_log.lines()
    mine = [line for line in lines if line.get("request_id") == "r-1"]
    assert {line["event"] for line in mine} >= {
        f"about to fail for {number[:3]}****{number[-4:]}",
        "unhandled error",
        "request",
    }
    crash = next(line for line in mine if line["event"] == "unhandled error")
    assert "RuntimeError: gateway refused" in crash["exception"]
    assert not [line for line in lines if "request_id" not in line and line["logger"] != "httpx2"]


def test_the_access_line_names_the_route_not_the_path(
    app_client: TestClient, captured_log: CapturedLog
) -> None:
    number = msisdn()
    r = app_client.get(f"/api/v1/lines/{number}", headers={"X-Request-ID": "r-2"})
    assert r.status_code == 401
    (line,) = [a for a in captured_log.access() if a["request_id"] == "r-2"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/lines/{msisdn}"
    assert line["status"] == 401
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["client"] == "testclient"
    assert line["level"] == "info" and "timestamp" in line


def test_one_access_line_per_request(app_client: TestClient, captured_log: CapturedLog) -> None:
    for _ in range(3):
        app_client.get("/healthz")
    app_client.get("/no/such/page")
    assert [(a["route"], a["status"]) for a in captured_log.access()] == [
        ("/healthz", 200),
        ("/healthz", 200),
        ("/healthz", 200),
        ("<unmatched>", 404),
    ]


def test_no_phone_or_id_number_reaches_the_log(
    app_client: TestClient, captured_log: CapturedLog
) -> None:
    numbers = [msisdn() for _ in range(4)]
    ids = [new_resident_id() for _ in range(2)]
    app_client.get(f"/api/v1/lines/{numbers[0]}/cancellation-check")
    app_client.post("/api/v1/auth/otp", json={"msisdn": numbers[1]})
    app_client.post(
        "/api/v1/cancellations",
        json={"msisdn": numbers[2], "real_name": {"name": "张三", "id_number": ids[0]}},
    )
    app_client.post(f"/test-crash/{numbers[3]}", json={"id_number": ids[1]})
    logging.getLogger("xiaohu.test").error("numbers %s and %s", numbers, {"id": ids[0]})
    text = captured_log.text()
    assert "gateway refused" in text and "numbers" in text  # the lines are there ...
    for secret in numbers + ids:
        assert secret not in text  # ... without the numbers
    assert re.search(r"\d{11,}", text) is None


def test_console_lines_are_masked_too(runtime: Runtime) -> None:
    import io

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("console", "info", buffer)
    try:
        number = msisdn()
        with TestClient(with_crash(create_app(runtime)), raise_server_exceptions=False) as c:
            c.post(f"/test-crash/{number}", json={"id_number": "11010119900307123X"})
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()
    text = buffer.getvalue()
    assert "unhandled error" in text and "route=/test-crash/{number}" in text
    assert number not in text and "11010119900307123X" not in text
    assert not text.lstrip().startswith("{")
