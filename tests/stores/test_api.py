"""GET /api/v1/stores (no token) and the sandbox store import."""

from __future__ import annotations

from fastapi.testclient import TestClient

STORES = [
    {
        "code": "44-GZ-0002",
        "name": "广州北京路营业厅",
        "province_code": "44",
        "city": "广州",
        "kind": "own_standard",
    },
    {
        "code": "44-GZ-0003",
        "name": "广州番禺合作营业厅",
        "province_code": "44",
        "city": "广州",
        "kind": "partner",
    },
    {
        "code": "44-SZ-0001",
        "name": "深圳华强北旗舰营业厅",
        "province_code": "44",
        "city": "深圳",
        "kind": "own_flagship",
    },
    {
        "code": "31-SH-0001",
        "name": "上海南京东路旗舰营业厅",
        "province_code": "31",
        "city": "上海",
        "kind": "own_flagship",
    },
]


def test_stores_are_listed_nearest_first_with_can_cancel(api: TestClient) -> None:
    r = api.post("/api/v1/sandbox/stores", json=STORES)
    assert r.json() == {"imported": 4, "skipped": 0}, r.text
    r = api.get("/api/v1/stores", params={"province_code": "44", "city": "广州"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["code"] for s in body["stores"]] == ["44-GZ-0002", "44-GZ-0003", "44-SZ-0001"]
    assert body["stores"][0] == {**STORES[0], "can_cancel": True}
    assert body["stores"][1]["can_cancel"] is False and body["truncated"] is False
    can = api.get("/api/v1/stores?province_code=44&can_cancel=true").json()["stores"]
    assert [s["code"] for s in can] == ["44-SZ-0001", "44-GZ-0002"]
    everywhere = api.get("/api/v1/stores").json()["stores"]
    assert {s["code"] for s in everywhere} >= {s["code"] for s in STORES}


def test_a_bad_province_code_is_a_422_naming_the_field(api: TestClient) -> None:
    for bad in ("99", "4", "广东"):
        r = api.get("/api/v1/stores", params={"province_code": bad})
        assert r.status_code == 422, bad
        assert r.json()["code"] == "VALIDATION_FAILED"
        assert r.json()["errors"][0]["field"] == "province_code"


def test_the_store_import_is_all_or_nothing(api: TestClient) -> None:
    bad = {**STORES[0], "code": "11-BJ-0001"}
    r = api.post("/api/v1/sandbox/stores", json=[STORES[1], bad, {**STORES[2], "kind": "kiosk"}])
    assert r.status_code == 422 and r.json()["code"] == "IMPORT_INVALID"
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(2, "code"), (3, "kind")]
    assert api.get("/api/v1/stores?province_code=44").json()["stores"] == []
