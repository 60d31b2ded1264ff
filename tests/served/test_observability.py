"""Observability of the served process: its log file has no full phone or ID number (a crash
included), every answer carries X-Request-ID, /readyz and /metrics answer, production logs JSON
lines and guards /metrics with the admin token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import msisdn
from tests.served.flows import NOW, add_line, sign_in
from tests.served.harness import ADMIN_TOKEN, Served, serve

ROOT = Path(__file__).resolve().parents[2]
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def leaky() -> Iterator[Served]:
    """A sandbox server (console log lines) whose payment gateway fails with the number."""
    env = {
        "XIAOHU_PAYMENT_GATEWAY": "tests.served.observability_adapters:LeakyPayments",
        "PYTHONPATH": str(ROOT),
    }
    with serve("sandbox", env) as server:
        assert server.put("/api/v1/sandbox/clock", {"now": NOW}).status_code == 200
        yield server


@pytest.fixture(scope="module")
def production() -> Iterator[Served]:
    with serve("production") as server:
        yield server


def test_a_crash_with_a_number_in_it_leaves_no_number_in_the_log(leaky: Served) -> None:
    record = add_line(leaky)
    number, id_number = record["msisdn"], record["owner"]["id_number"]
    token = sign_in(leaky, number)
    assert leaky.get(f"/api/v1/lines/{number}", token=token).status_code == 200
    r = leaky.post(
        f"/api/v1/lines/{number}/payments",
        {"amount_fen": 100},
        token=token,
        headers={"X-Request-ID": "crash-1"},
    )
    assert r.status_code == 500, r.text
    assert r.headers["X-Request-ID"] == "crash-1"
    r = leaky.post("/api/v1/auth/token", {"msisdn": number, "otp": "000000", "id": id_number})
    assert r.status_code == 422
    log = leaky.log()
    assert "unhandled error" in log and "provider rejected 100 fen for" in log  # the crash ...
    assert f"{number[:3]}****{number[-4:]}" in log  # ... logged masked
    assert number not in log and id_number not in log
    assert MOBILE.search(log) is None
    assert "route=/api/v1/lines/{msisdn}/payments" in log
    assert "request_id=crash-1" in log
    assert "color_message" not in log  # uvicorn's coloured copy of each message is dropped


def test_readyz_and_metrics_in_the_sandbox(leaky: Served) -> None:
    r = leaky.get("/readyz")
    assert r.status_code == 200 and r.json()["migrations"] == "ok"
    assert r.headers["X-Request-ID"]
    for _ in range(2):
        assert leaky.get(f"/api/v1/lines/{msisdn()}").status_code == 401
    metrics = leaky.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'xiaohu_refusals_total{code="UNAUTHENTICATED"}' in text
    assert re.search(
        r'xiaohu_http_request_duration_seconds_count\{method="GET",route="/api/v1/lines/'
        r'\{msisdn\}",status="401"\} ([2-9]|\d\d)',
        text,
    )
    assert "xiaohu_database_up 1.0" in text


def test_production_logs_json_lines_with_the_request_id_and_no_number(production: Served) -> None:
    numbers = [msisdn() for _ in range(3)]
    r = production.get(f"/api/v1/lines/{numbers[0]}", headers={"X-Request-ID": "prod-1"})
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] == "prod-1"
    production.post("/api/v1/auth/otp", {"msisdn": numbers[1]}, headers={"X-Request-ID": "prod-2"})
    bad = production.get("/healthz", headers={"X-Request-ID": "no spaces please"})
    assert bad.headers["X-Request-ID"] != "no spaces please"

    log = production.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "xiaohu.access"]
    (first,) = [a for a in access if a["request_id"] == "prod-1"]
    assert (first["method"], first["route"], first["status"]) == (
        "GET",
        "/api/v1/lines/{msisdn}",
        401,
    )
    assert [a["route"] for a in access if a["request_id"] == "prod-2"] == ["/api/v1/auth/otp"]
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)  # routed too
    for number in numbers:
        assert number not in log
    assert MOBILE.search(log) is None


def test_production_metrics_need_the_admin_token(production: Served) -> None:
    def refused_unauthenticated() -> float:
        r = production.get("/metrics", token=ADMIN_TOKEN)
        assert r.status_code == 200
        found = re.search(r'^xiaohu_refusals_total\{code="UNAUTHENTICATED"\} (\S+)$', r.text, re.M)
        return float(found.group(1)) if found else 0.0

    before = refused_unauthenticated()  # the server is shared with other tests
    assert production.get("/readyz").status_code == 200
    assert production.get("/metrics").status_code == 401
    assert production.get("/metrics", token="x" * 40).status_code == 401  # not genuine
    assert refused_unauthenticated() == before + 2
