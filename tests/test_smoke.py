from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_reports_database(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "NOT_FOUND"


def test_trial_balance_of_empty_ledger_is_balanced(client: TestClient) -> None:
    r = client.get("/api/v1/admin/ledger/trial-balance")
    assert r.status_code == 200
    assert r.json()["balanced"] is True


def test_sandbox_clock_round_trip(client: TestClient) -> None:
    r = client.put("/api/v1/sandbox/clock", json={"now": "2027-01-01T10:00:00+08:00"})
    assert r.status_code == 200
    assert client.get("/api/v1/sandbox/clock").json()["now"].startswith("2027-01-01T02:00:00")
    client.delete("/api/v1/sandbox/clock")
    assert client.get("/api/v1/sandbox/clock").json()["pinned"] is False
