"""The API's per-client sign-in limits (`identity.limits`) count the pages too, in the same
counters: codes asked for, sign-in attempts (code or reference). Past a limit the page says how
long to wait, and nothing is sent or tried."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import SERVICE_PASSWORD
from tests.web.test_pages import NOW, add, token_of
from xiaohu.identity.limits import ClientLimits
from xiaohu.runtime import Runtime


@pytest.fixture()
def web(client: TestClient, runtime: Runtime) -> TestClient:
    runtime.client_limits = ClientLimits("2/minute", "2/minute")
    r = client.put("/api/v1/sandbox/clock", json={"now": NOW})
    assert r.status_code == 200
    return client


def sms_count(web: TestClient, msisdn: str) -> int:
    return len(web.get("/api/v1/sandbox/sms", params={"msisdn": msisdn}).json()["messages"])


def assert_wait_page(r: Any) -> None:
    assert r.status_code == 429
    html = r.text
    assert 'data-screen="rate-limited"' in html
    wait = re.search(r'id="rate-limited-wait" data-seconds="(\d+)"', html)
    assert wait and 1 <= int(wait.group(1)) <= 60
    assert f"请 {wait.group(1)} 秒后再试" in html
    assert r.headers["retry-after"] == wait.group(1)


def test_codes_from_one_client_are_limited_on_the_pages_too(web: TestClient) -> None:
    first, second, third = add(web), add(web), add(web)
    r = web.post("/api/v1/auth/otp", json={"msisdn": first["msisdn"]})  # the API's count
    assert r.status_code == 202
    token = token_of(web.get("/").text)
    r = web.post("/sign-in/code", data={"csrf_token": token, "msisdn": second["msisdn"]})
    assert r.status_code == 200
    r = web.post("/sign-in/code", data={"csrf_token": token, "msisdn": third["msisdn"]})
    assert_wait_page(r)
    assert sms_count(web, third["msisdn"]) == 0
    r = web.post("/api/v1/auth/otp", json={"msisdn": third["msisdn"]})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"


def test_sign_in_attempts_from_one_client_are_limited_on_the_pages_too(
    web: TestClient,
) -> None:
    record = add(web)
    token = token_of(web.get("/").text)
    assert web.post(
        "/sign-in/code", data={"csrf_token": token, "msisdn": record["msisdn"]}
    ).status_code == 200  # fmt: skip
    wrong = {"csrf_token": token, "msisdn": record["msisdn"], "otp": "000000",
             "service_password": SERVICE_PASSWORD}  # fmt: skip
    assert web.post("/sign-in", data=wrong).status_code == 401
    reference = {"csrf_token": token, "msisdn": record["msisdn"], "reference": "XH-1",
                 "service_password": SERVICE_PASSWORD, "id_number": "X"}  # fmt: skip
    assert web.post("/sign-in/reference", data=reference).status_code == 401
    assert_wait_page(web.post("/sign-in", data=wrong))
    assert_wait_page(web.post("/sign-in/reference", data=reference))
    r = web.post(
        "/api/v1/auth/token",
        json={"msisdn": record["msisdn"], "otp": "000000", "service_password": SERVICE_PASSWORD},
    )
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
