"""POST /api/v1/sandbox/lines: JSON Lines or an array; 422 IMPORT_INVALID names line and field."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.factories import line_record


def _jsonl(*records: dict[str, object]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def test_json_lines_are_imported(client: TestClient) -> None:
    r = client.post("/api/v1/sandbox/lines", content=_jsonl(line_record(), line_record()))
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 2


def test_json_array_is_imported_and_the_line_is_readable(client: TestClient) -> None:
    record = line_record(province="31")
    r = client.post("/api/v1/sandbox/lines", json=[record])
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1
    tb = client.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True and tb["debits_fen"] >= 5000


def test_invalid_record_is_422_with_line_and_field(client: TestClient) -> None:
    bad = line_record(status="sleeping")
    r = client.post("/api/v1/sandbox/lines", content=_jsonl(line_record(), bad))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "IMPORT_INVALID"
    assert body["errors"] == [{"line": 2, "field": "status", "reason": body["errors"][0]["reason"]}]
    assert "sleeping" in body["errors"][0]["reason"]
    # nothing was written: the valid first record is not there either
    ok = client.post("/api/v1/sandbox/lines", content=_jsonl(line_record()))
    assert ok.json()["imported"] == 1


def test_malformed_json_line_names_the_line(client: TestClient) -> None:
    body = _jsonl(line_record()) + '{"msisdn": "138\n'
    r = client.post("/api/v1/sandbox/lines", content=body)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["line"] == 2 and error["field"] == "(record)"
    assert error["reason"].startswith("not valid JSON")


def test_malformed_json_array_names_the_line(client: TestClient) -> None:
    r = client.post("/api/v1/sandbox/lines", content='[\n{"msisdn": 1},\n{oops}\n]')
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["line"] == 3


def test_skip_invalid_writes_the_valid_ones(client: TestClient) -> None:
    body = _jsonl(line_record(), line_record(balance={"cash_fen": -1}), line_record())
    r = client.post("/api/v1/sandbox/lines?skip_invalid=true", content=body)
    assert r.status_code == 200
    assert r.json() == {"imported": 2, "skipped": 1}


def test_one_pretty_printed_record_is_accepted(client: TestClient) -> None:
    body = json.dumps(line_record(), ensure_ascii=False, indent=2)
    r = client.post("/api/v1/sandbox/lines", content=body)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1
