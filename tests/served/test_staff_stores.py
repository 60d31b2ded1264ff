"""Stores and staff over real HTTP against `xiaohu serve` (both engines): the sandbox imports
(all or nothing), the store directory, staff sign-in and lock-out, the admin routes with staff
tokens in production (staff loaded with the `xiaohu stores/staff import` commands), and a clerk
reading a line's audit trail."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.factories import line_record
from tests.served.flows import add_line, sign_in
from tests.served.harness import SERVED_KEY, Served, serve, xiaohu_command
from xiaohu import principals

STORES = [
    {
        "code": "44-GZ-0001",
        "name": "广州天河旗舰营业厅",
        "province_code": "44",
        "city": "广州",
        "kind": "own_flagship",
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
        "name": "深圳华强北营业厅",
        "province_code": "44",
        "city": "深圳",
        "kind": "own_standard",
    },
    {
        "code": "11-BJ-0001",
        "name": "北京西单旗舰营业厅",
        "province_code": "11",
        "city": "北京",
        "kind": "own_flagship",
    },
]


def member(login: str, role: str, province: str = "44", **extra: Any) -> dict[str, Any]:
    record = {
        "login": login,
        "name": "王五",
        "role": role,
        "province_code": province,
        "password": f"{login}-password",
    }
    return {**record, **extra}


def _token(server: Served, login: str, password: str | None = None) -> str:
    r = server.post(
        "/api/v1/staff/token", {"login": login, "password": password or f"{login}-password"}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_sandbox_import_is_all_or_nothing_then_the_directory_lists_nearest_first(
    server: Served,
) -> None:
    bad = [*STORES, {**STORES[0], "code": "31-SH-0001"}]
    r = server.post("/api/v1/sandbox/stores", bad)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"line": 5, "field": "code", "reason": "starts with 31, not its province_code 44"}
    ]
    assert server.get("/api/v1/stores").json()["stores"] == []
    body = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in STORES)
    r = server.request(
        "POST",
        "/api/v1/sandbox/stores",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.json() == {"imported": 4, "skipped": 0}, r.text
    near = server.get("/api/v1/stores", params={"province_code": "44", "city": "深圳"}).json()
    assert [s["code"] for s in near["stores"]] == ["44-SZ-0001", "44-GZ-0001", "44-GZ-0003"]
    can = server.get("/api/v1/stores?province_code=44&can_cancel=true").json()["stores"]
    assert [(s["code"], s["can_cancel"]) for s in can] == [
        ("44-GZ-0001", True),
        ("44-SZ-0001", True),
    ]
    bad_province = server.get("/api/v1/stores?province_code=00")
    assert bad_province.status_code == 422
    assert bad_province.json()["errors"][0]["field"] == "province_code"


def test_staff_sign_in_and_lock_out(server: Served) -> None:
    server.post("/api/v1/sandbox/stores", STORES)
    clerk = member("gz.lock", "clerk", store_code="44-GZ-0001")
    wrong_store = member("gz.far", "clerk", store_code="11-BJ-0001")
    r = server.post("/api/v1/sandbox/staff", [clerk, wrong_store])
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(2, "store_code")]
    assert "password" not in json.dumps(r.json()["errors"]).replace('"field"', "")
    assert server.post("/api/v1/sandbox/staff", [clerk]).json()["imported"] == 1
    token = server.post(
        "/api/v1/staff/token", {"login": "gz.lock", "password": "gz.lock-password"}
    ).json()
    assert (token["role"], token["store_code"], token["token_type"]) == (
        "clerk",
        "44-GZ-0001",
        "bearer",
    )
    unknown = server.post("/api/v1/staff/token", {"login": "gz.nobody", "password": "x" * 12})
    answers = [
        server.post("/api/v1/staff/token", {"login": "gz.lock", "password": "x" * 12})
        for _ in range(5)
    ]
    assert unknown.json() == answers[0].json()
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert answers[-1].json()["code"] == "VERIFICATION_LOCKED"
    still = server.post("/api/v1/staff/token", {"login": "gz.lock", "password": "gz.lock-password"})
    assert still.status_code == 429  # the lock was committed with the refusal
    # A re-import with a new password lifts the lock-out.
    renewed = {**clerk, "password": "a-brand-new-password"}
    assert server.post("/api/v1/sandbox/staff", [renewed]).status_code == 200
    _token(server, "gz.lock", "a-brand-new-password")
    audit = server.get("/api/v1/admin/audit/verify").json()
    assert audit["intact"] is True


def test_a_clerk_of_the_home_province_reads_a_lines_audit(server: Served) -> None:
    server.post("/api/v1/sandbox/stores", STORES)
    staff = [
        member("gz.audit", "clerk", store_code="44-GZ-0001"),
        member("bj.audit", "clerk", province="11", store_code="11-BJ-0001"),
        member("gz.admin", "admin"),
    ]
    assert server.post("/api/v1/sandbox/staff", staff).status_code == 200
    record = add_line(server, **line_record(province="44"))
    msisdn = record["msisdn"]
    line_token = sign_in(server, msisdn)
    paid = server.post(f"/api/v1/lines/{msisdn}/payments", {"amount_fen": 100}, token=line_token)
    assert paid.status_code == 201, paid.text
    path = f"/api/v1/lines/{msisdn}/audit"
    mine = server.get(path, token=line_token).json()["events"]
    r = server.get(path, token=_token(server, "gz.audit"))
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert events == mine
    by_subscriber = [e for e in events if e["actor"] == "subscriber"]
    assert by_subscriber, events  # the payment, made with the line's token
    assert {(e["actor_kind"], e["staff_login"]) for e in by_subscriber} == {("subscriber", None)}
    assert server.get(path, token=_token(server, "bj.audit")).status_code == 200  # any clerk
    for login in ("gz.admin",):
        refused = server.get(path, token=_token(server, login))
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN", login


def _xiaohu(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command)
        [*xiaohu_command(), *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_admin_routes_take_an_admin_staff_token(tmp_path: Path) -> None:
    stores = tmp_path / "stores.jsonl"
    stores.write_text(json.dumps(STORES[0], ensure_ascii=False) + "\n", encoding="utf-8")
    staff = tmp_path / "staff.jsonl"
    rows = [member("gz.admin", "admin"), member("gz.clerk", "clerk", store_code="44-GZ-0001")]
    staff.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(member("gz.x", "clerk", store_code="44-GZ-0404")) + "\n")
    with serve("production") as server:
        refused = _xiaohu(server, "staff", "import", str(bad))
        assert refused.returncode == 1
        assert "line 1: store_code: no store 44-GZ-0404 is loaded" in refused.stderr
        assert "gz.x-password" not in refused.stdout + refused.stderr
        done = _xiaohu(server, "stores", "import", str(stores))
        assert done.returncode == 0, done.stderr
        done = _xiaohu(server, "staff", "import", str(staff))
        assert done.returncode == 0, done.stderr
        assert "imported 2 staff record(s)" in done.stdout
        admin, clerk = _token(server, "gz.admin"), _token(server, "gz.clerk")
        line = principals.issue(SERVED_KEY.encode(), 1, "13800138000", _now(), 600)
        for path in ("/api/v1/admin/ledger/trial-balance", "/api/v1/admin/audit/verify"):
            ok = server.get(path, token=admin)
            assert ok.status_code == 200, ok.text
            for token in (clerk, line):
                r = server.get(path, token=token)
                assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
            assert server.get(path).status_code == 401
        assert server.get("/api/v1/admin/audit/verify", token=admin).json()["intact"] is True


def test_sandbox_admin_routes_open_without_a_token_but_not_to_a_clerk(server: Served) -> None:
    server.post("/api/v1/sandbox/stores", STORES)
    clerk = member("gz.nosy", "clerk", store_code="44-GZ-0001")
    server.post("/api/v1/sandbox/staff", [clerk])
    token = _token(server, "gz.nosy")
    for path in ("/api/v1/admin/ledger/trial-balance", "/api/v1/admin/audit/verify"):
        assert server.get(path).status_code == 200
        assert server.get(path, token=token).status_code == 403


def _now() -> dt.datetime:
    """A production server runs on the system clock: a token minted here must be live there."""
    return dt.datetime.now(dt.UTC)
