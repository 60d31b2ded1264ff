"""The served OpenAPI document says how to call: bearer schemes where a token is needed, the
`Idempotency-Key` header where it is read, and an example problem for every refusal."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import TEST_KEY, test_settings
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.kit.errors import CATALOG

MSISDN = "13800138000"
# The cancellation's body is validated before the token is read (the token is read inline on
# that hot route), so it needs a body of the right shape to reach the token check.
BODIES: dict[str, Any] = {
    "/api/v1/cancellations": {
        "msisdn": MSISDN,
        "quote_id": "q",
        "real_name": {"name": "张三", "id_number": "110101199003074578"},
    },
}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def _production_client(engine: Engine) -> TestClient:
    url = engine.url.render_as_string(hide_password=False)
    settings = test_settings(
        url, mode="production", secret_key=TEST_KEY, admin_token="a" * 32,
        allow_sandbox_gateways=True,
    )  # fmt: skip
    return TestClient(create_app(build_runtime(settings, engine)))


def test_a_scheme_is_declared_exactly_where_a_missing_token_is_refused(engine: Engine) -> None:
    with _production_client(engine) as client:
        doc = client.get("/openapi.json").json()
        schemes = {"LineToken", "AdminToken", "StaffToken", "PlatformKey"}
        assert set(doc["components"]["securitySchemes"]) == schemes
        for name, scheme in doc["components"]["securitySchemes"].items():
            if name != "PlatformKey":  # an API key in its header, not a bearer token
                assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
        secured = {"LineToken": 0, "StaffToken": 0, "AdminToken": 0, "PlatformKey": 0}
        for path, method, op in _operations(doc):
            url = re.sub(r"\{msisdn\}", MSISDN, path)
            url = re.sub(r"\{[a-z_]+\}", "x", url)
            body = BODIES.get(path, {}) if method in {"post", "put", "patch"} else None
            r = client.request(method.upper(), url, json=body)
            refused = r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
            declared = op.get("security")
            assert refused == bool(declared), (method, path, r.status_code, r.text[:200])
            if declared:
                (name,) = declared[0]
                assert (name == "AdminToken") == path.startswith("/api/v1/admin/"), path
                secured[name] += 1
        assert secured["LineToken"] >= 10 and secured["AdminToken"] >= 2
        assert secured["PlatformKey"] == 1


def test_idempotency_key_is_declared_where_it_is_read(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    declared = set()
    for path, method, op in _operations(doc):
        headers = [p for p in op.get("parameters", []) if p["in"] == "header"]
        if any(p["name"] == "Idempotency-Key" for p in headers):
            (param,) = headers
            assert param["required"] is False
            assert param["schema"]["maxLength"] == 200
            described = " | ".join(r.get("description", "") for r in op["responses"].values())
            assert "IDEMPOTENCY_KEY_REUSED" in described and "IDEMPOTENCY_KEY_INVALID" in described
            declared.add((method, path))
    assert {m for m, _ in declared} == {"post"}
    assert ("post", "/api/v1/cancellations") in declared
    assert ("post", "/api/v1/lines/{msisdn}/payments") in declared
    assert ("post", "/api/v1/cancellations/{cancellation_id}/reversal") in declared
    assert ("post", "/api/v1/auth/otp") not in declared  # no key: a code is sent each time
    assert ("post", "/api/v1/store/cancellations") in declared
    assert ("post", "/api/v1/store/payments") in declared
    assert ("post", "/api/v1/store/cancellation-checks") not in declared  # a check acts on nothing
    assert ("post", "/api/v1/workorders/{order_id}/decision") in declared
    retention = {
        ("post", "/api/v1/lines/{msisdn}/retention"),
        ("post", "/api/v1/lines/{msisdn}/reactivation"),
        ("post", "/api/v1/store/lines/{msisdn}/retention"),
        ("post", "/api/v1/store/lines/{msisdn}/reactivation"),
    }
    assert retention <= declared
    assert ("post", "/api/v1/store/numbers/{msisdn}/reclaim") in declared
    # 7, the store's payment, cancellation and two counter remedies, a work order's decision,
    # retention and reactivation online and at a store, the reclaim at a counter
    assert len(declared) == 13 + len(retention)


def test_every_refusal_has_an_example_problem_with_its_code(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    seen = set()
    for path, method, op in _operations(doc):
        for status, response in op["responses"].items():
            if status[0] not in "45" or "application/problem+json" not in response["content"]:
                continue
            codes = response["description"].split(" | ")
            examples = response["content"]["application/problem+json"]["examples"]
            assert set(examples) == set(codes), (method, path, status)
            for code, example in examples.items():
                value = example["value"]
                assert value["code"] == code
                assert value["status"] == int(status) == CATALOG[code].status
                assert {"type", "title", "detail", "message", "message_en"} <= set(value)
                seen.add(code)
    assert {"UNAUTHENTICATED", "VALIDATION_FAILED", "DATABASE_UNAVAILABLE"} <= seen
    assert len(seen) > 30


def test_routes_that_take_a_staff_token_declare_it(client: TestClient) -> None:
    """The schemes each route takes, as the routes check them: a hotline session is opened
    with an agent's staff token; a line's evidence is read with its token or a clerk's."""
    doc = client.get("/openapi.json").json()
    expected = {
        ("post", "/api/v1/hotline/sessions"): [{"StaffToken": []}],
        ("post", "/api/v1/store/cancellations"): [{"StaffToken": []}],
        ("get", "/api/v1/lines/{msisdn}/refusals"): [{"LineToken": []}, {"StaffToken": []}],
        ("get", "/api/v1/lines/{msisdn}/refusals/{reference}.pdf"): [
            {"LineToken": []},
            {"StaffToken": []},
        ],
        ("get", "/api/v1/lines/{msisdn}/audit"): [{"LineToken": []}, {"StaffToken": []}],
        ("get", "/api/v1/lines/{msisdn}"): [{"LineToken": []}],
    }
    for (method, path), schemes in expected.items():
        assert doc["paths"][path][method].get("security") == schemes, (method, path)
