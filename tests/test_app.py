"""Modes, settings and the error contract of the app as a whole."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from tests.conftest import TEST_KEY, test_settings
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.config import SANDBOX_SECRET_KEY, Settings


def test_production_refuses_to_start_without_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XIAOHU_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="XIAOHU_SECRET_KEY"):
        Settings(mode="production")


@pytest.mark.parametrize("key", [SANDBOX_SECRET_KEY, "short"])
def test_production_refuses_weak_keys(key: str) -> None:
    with pytest.raises(ValidationError, match="XIAOHU_SECRET_KEY"):
        Settings(mode="production", secret_key=key)  # type: ignore[arg-type]


def test_sandbox_endpoints_answer_404_in_production(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    settings = test_settings(
        url,
        mode="production",
        secret_key=TEST_KEY,
        admin_token="a" * 32,
        allow_sandbox_gateways=True,
    )
    runtime = build_runtime(settings, engine)
    with TestClient(create_app(runtime)) as client:
        for method, path in [
            ("GET", "/api/v1/sandbox/sms"),
            ("PUT", "/api/v1/sandbox/clock"),
            ("POST", "/api/v1/sandbox/lines"),
            ("POST", "/api/v1/sandbox/runs/close-cycle"),
            ("POST", "/api/v1/sandbox/runs/lifecycle"),
        ]:
            r = client.request(method, path, json={})
            assert r.status_code == 404, path
            assert r.json()["code"] == "NOT_FOUND"
        assert client.get("/healthz").json()["mode"] == "production"


def test_malformed_json_is_a_problem_naming_the_body(client: TestClient) -> None:
    r = client.put(
        "/api/v1/sandbox/clock", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "MALFORMED_JSON"


def test_validation_errors_name_the_field(client: TestClient) -> None:
    r = client.put("/api/v1/sandbox/clock", json={"now": "2027-01-01T10:00:00"})  # no offset
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert body["errors"][0]["field"] == "now"


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]
    assert "/api/v1/admin/ledger/trial-balance" in spec["paths"]
    assert client.get("/docs").status_code == 200
