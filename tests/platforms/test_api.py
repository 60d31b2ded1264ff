"""The recycled-number check over HTTP, in process: keys, the answer before and after a
cancellation and a reversal, the limits on a batch and on a platform's rate."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api
from tests.factories import line_record, msisdn
from xiaohu.audit.models import AuditEvent
from xiaohu.platforms.models import Platform
from xiaohu.runtime import Runtime

PATH = "/api/v1/platform/recycled-checks"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def platform(client: TestClient, name: str, **kw: Any) -> str:
    r = client.post("/api/v1/sandbox/platforms", json={"name": name, **kw})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def ask(client: TestClient, key: str | None, *queries: tuple[str, str]) -> Any:
    headers = {"X-Api-Key": key} if key is not None else {}
    body = {"queries": [{"msisdn": m, "bound_since": d} for m, d in queries]}
    return client.post(PATH, json=body, headers=headers)


def changed(client: TestClient, key: str, *queries: tuple[str, str]) -> list[bool]:
    r = ask(client, key, *queries)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["msisdn"] for x in results] == [m for m, _ in queries]
    assert all(set(x) == {"msisdn", "changed"} for x in results)  # nothing personal
    return [x["changed"] for x in results]


def test_before_and_after_a_cancellation_and_its_reversal(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    key = platform(client, "某银行")
    rec = line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    api.import_lines(rec)
    m, unknown = rec["msisdn"], msisdn("31")
    before = (m, "2025-01-01")
    assert changed(client, key, before, (unknown, "2020-01-01")) == [False, False]
    api.sign_in(m)
    r = api.cancel(rec, api.check(m))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    # Cancelled on 2026-11-24 (Shanghai): changed for accounts bound that day or before.
    got = changed(
        client, key, before, (m, "2026-11-24"), (m, "2026-11-25"), (unknown, "2020-01-01")
    )
    assert got == [True, True, False, False]
    r = client.post(f"/api/v1/cancellations/{cid}/reversal", headers=api.auth(m))
    assert r.status_code == 200, r.text
    assert changed(client, key, before) == [False]
    with runtime.sessions() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "platform.recycled_check")
        ).all()
        assert [e.data["changed"] for e in events] == [0, 2, 0]
        assert all(m not in str(e.data) for e in events)


def test_keys_are_stored_hashed_and_a_wrong_or_revoked_key_is_401(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    key = platform(client, "某支付")
    r = client.post("/api/v1/sandbox/platforms", json={"name": "某支付"})
    assert r.status_code == 409 and r.json()["code"] == "PLATFORM_EXISTS"
    with runtime.sessions() as s:
        row = s.scalars(select(Platform).where(Platform.name == "某支付")).one()
        assert row.key_hint == key[:8] and key not in (row.key_index, row.key_hint)
    q = (msisdn("11"), "2025-01-01")
    for wrong in (None, "", key + "x", "xhp_" + "a" * 43):
        r = ask(client, wrong, q)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "UNAUTHENTICATED"
    assert ask(client, key, q).status_code == 200
    with runtime.sessions() as s, s.begin():
        s.scalars(select(Platform).where(Platform.name == "某支付")).one().revoked_at = T0
    r = ask(client, key, q)
    assert r.status_code == 401 and r.json()["detail"] == ask(client, None, q).json()["detail"]


def test_batch_limits_and_malformed_queries(api: Api, client: TestClient) -> None:
    key = platform(client, "某社交")
    many = [(msisdn("11"), "2025-01-01")] * 1001
    r = ask(client, key, *many)
    assert r.status_code == 422 and r.json()["code"] == "TOO_MANY_QUERIES", r.text
    assert len(changed(client, key, *many[:1000])) == 1000
    r = ask(client, key)
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    r = ask(client, key, (msisdn("11"), "2025-01-01"), ("1380013800", "2025-01-01"),
            (msisdn("11"), "2025-02-30"))  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["queries.1.msisdn", "queries.2.bound_since"]
    r = ask(client, key, (msisdn("11"), "2126-01-01"), (msisdn("11"), "1900-01-01"))
    assert [e["field"] for e in r.json()["errors"]] == [
        "queries.0.bound_since",
        "queries.1.bound_since",
    ]
    assert "2000 to 2099" in r.json()["errors"][0]["reason"]
    r = client.post(PATH, content=b"{not json", headers={"X-Api-Key": key})
    assert r.status_code == 400 and r.json()["code"] == "MALFORMED_JSON"
    r = client.post(PATH, json={"queries": [{"msisdn": 13800138000}]}, headers={"X-Api-Key": key})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "queries.0"


def test_more_than_the_rate_is_429_with_retry_after(api: Api, client: TestClient) -> None:
    key = platform(client, "某电商", requests_per_minute=2)
    other = platform(client, "某游戏", requests_per_minute=2)
    q = (msisdn("11"), "2025-01-01")
    assert ask(client, key, q).status_code == 200
    assert ask(client, key, q).status_code == 200
    r = ask(client, key, q)
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED", r.text
    assert 1 <= r.json()["retry_after"] <= 60
    assert r.headers["Retry-After"] == str(r.json()["retry_after"])
    assert ask(client, other, q).status_code == 200  # per platform


def test_the_document_names_the_platform_key_as_the_checks_credential(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operation = doc["paths"][PATH]["post"]
    assert operation["security"] == [{"PlatformKey": []}]
    scheme = doc["components"]["securitySchemes"]["PlatformKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
