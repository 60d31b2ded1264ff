"""Staff over HTTP (in process): the sandbox import, sign-in and lock-out, the admin routes
with staff tokens in both modes, and a clerk reading a line's audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.conftest import TEST_KEY, test_settings
from tests.factories import STAFF_PASSWORD, add_staff, add_store, line_record, load, staff_token
from tests.staff.records import CLERK
from xiaohu import principals
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.audit.service import line_event
from xiaohu.kit.clock import SystemClock
from xiaohu.runtime import Context
from xiaohu.staff.models import StaffMember

ADMIN_PATHS = ["/api/v1/admin/ledger/trial-balance", "/api/v1/admin/audit/verify"]
STORE = {
    "code": "44-GZ-0001",
    "name": "广州天河营业厅",
    "province_code": "44",
    "city": "广州",
    "kind": "own_flagship",
}


def _jsonl(*records: dict[str, object]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def test_staff_are_imported_as_json_lines_and_sign_in(api: TestClient) -> None:
    assert api.post("/api/v1/sandbox/stores", json=[STORE]).json() == {
        "imported": 1,
        "skipped": 0,
    }
    r = api.post("/api/v1/sandbox/staff", content=_jsonl(CLERK))
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    r = api.post("/api/v1/staff/token", json={"login": "gz.wang", "password": "counter-password"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("token_type", "role", "province_code", "store_code", "login")} == {
        "token_type": "bearer",
        "role": "clerk",
        "province_code": "44",
        "store_code": "44-GZ-0001",
        "login": "gz.wang",
    }
    assert body["name"] == "王五" and body["expires_in"] == 8 * 3600


def test_the_staff_import_is_all_or_nothing_and_names_line_and_field(
    api: TestClient, ctx: Context
) -> None:
    api.post("/api/v1/sandbox/stores", json=[STORE])
    other = {**CLERK, "login": "gz.li", "store_code": "44-GZ-0404"}
    r = api.post("/api/v1/sandbox/staff", content=_jsonl(CLERK, other, {**CLERK, "pin": "1"}))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "IMPORT_INVALID"
    # Every error, in line order: the record's own checks and the database's.
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "store_code"), (3, "pin")]
    assert "counter-password" not in r.text
    assert ctx.session.scalars(select(StaffMember)).all() == []
    r = api.post("/api/v1/sandbox/staff?skip_invalid=true", content=_jsonl(CLERK, other))
    assert r.json() == {"imported": 1, "skipped": 1}


def test_an_empty_body_is_refused(api: TestClient) -> None:
    for path in ("/api/v1/sandbox/stores", "/api/v1/sandbox/staff"):
        r = api.post(path, content=b"\n")
        assert r.status_code == 422 and r.json()["code"] == "IMPORT_INVALID"


def test_wrong_password_unknown_login_and_lock_out(api: TestClient, ctx: Context) -> None:
    add_store(ctx)
    add_staff(ctx)
    unknown = api.post("/api/v1/staff/token", json={"login": "bj.nobody", "password": "x" * 9})
    wrong = api.post("/api/v1/staff/token", json={"login": "bj.wang", "password": "x" * 9})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert wrong.json()["code"] == "VERIFICATION_FAILED"
    assert wrong.json()["message_en"] == "The login or the password is wrong"
    for _ in range(3):
        assert (
            api.post(
                "/api/v1/staff/token", json={"login": "bj.wang", "password": "x" * 9}
            ).status_code
            == 401
        )
    locked = api.post("/api/v1/staff/token", json={"login": "bj.wang", "password": "x" * 9})
    assert locked.status_code == 429 and locked.json()["code"] == "VERIFICATION_LOCKED"
    assert int(locked.headers["Retry-After"]) == 1800
    right = api.post("/api/v1/staff/token", json={"login": "bj.wang", "password": STAFF_PASSWORD})
    assert right.status_code == 429  # locked, whatever the password


def test_sign_in_body_is_checked(api: TestClient) -> None:
    r = api.post("/api/v1/staff/token", json={"login": "bj.wang"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = api.post("/api/v1/staff/token", json={"login": "a", "password": "b", "role": "admin"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"


def _token(ctx: Context, role: str, province: str = "11") -> str:
    return principals.issue_staff(
        ctx.settings.key,
        staff_id=1,
        login=f"t.{role}",
        role=role,
        province_code=province,
        store_code="11-BJ-0001" if role == "clerk" else None,
        now=ctx.now(),
        ttl_seconds=3600,
    )


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_sandbox_admin_routes_are_open_but_not_to_a_clerk(
    api: TestClient, ctx: Context, path: str
) -> None:
    assert api.get(path).status_code == 200
    assert api.get(path, headers=_bearer(_token(ctx, "admin"))).status_code == 200
    for role in ("clerk", "hotline_agent", "backoffice"):
        r = api.get(path, headers=_bearer(_token(ctx, role)))
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


@pytest.fixture()
def production(engine: Engine) -> Iterator[TestClient]:
    settings = test_settings(
        engine.url.render_as_string(hide_password=False),
        mode="production",
        secret_key=TEST_KEY,
        admin_token="a" * 32,
        allow_sandbox_gateways=True,
    )
    runtime = build_runtime(settings, engine)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_production_admin_routes_take_an_admin_staff_token(
    production: TestClient, ctx: Context, path: str
) -> None:
    ctx.clock = SystemClock()  # production runs on the system clock: mint at its time
    r = production.get(path, headers=_bearer(_token(ctx, "admin")))
    assert r.status_code == 200, r.text
    assert r.json().get("balanced", r.json().get("intact")) is True
    clerk = production.get(path, headers=_bearer(_token(ctx, "clerk")))
    assert clerk.status_code == 403 and clerk.json()["code"] == "FORBIDDEN"
    line = principals.issue(ctx.settings.key, 1, "13800138000", ctx.now(), 600)
    assert production.get(path, headers=_bearer(line)).status_code == 403
    none = production.get(path)
    assert none.status_code == 401 and none.json()["code"] == "UNAUTHENTICATED"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_clerk_of_the_home_province_reads_the_audit_trail(api: TestClient, ctx: Context) -> None:
    add_store(ctx)
    clerk = add_staff(ctx)
    (line,) = load(ctx, line_record(province="11"))
    ctx.actor = "clerk:bj.wang"
    line_event(ctx, "store.checked", line.msisdn, "11", {"store_code": "11-BJ-0001"})
    ctx.actor = "hotline_agent:hl.zhao"
    line_event(ctx, "hotline.called", line.msisdn, "11", {})
    ctx.actor = "system"
    line_event(ctx, "cycle.closed", line.msisdn, "11", {})
    ctx.session.flush()
    r = api.get(f"/api/v1/lines/{line.msisdn}/audit", headers=_bearer(staff_token(ctx, clerk)))
    assert r.status_code == 200, r.text
    events = {e["action"]: e for e in r.json()["events"]}
    assert events["store.checked"]["actor"] == "clerk:bj.wang"
    assert (events["store.checked"]["actor_kind"], events["store.checked"]["staff_login"]) == (
        "staff",
        "bj.wang",
    )
    assert events["hotline.called"]["staff_login"] == "hl.zhao"
    assert (events["cycle.closed"]["actor_kind"], events["cycle.closed"]["staff_login"]) == (
        "system",
        None,
    )
    line_token = principals.issue(ctx.settings.key, line.id, line.msisdn, ctx.now(), 600)
    mine = api.get(f"/api/v1/lines/{line.msisdn}/audit", headers=_bearer(line_token))
    assert mine.status_code == 200 and mine.json()["events"] == r.json()["events"]


def test_other_staff_roles_cannot_read_the_audit_trail_any_clerk_can(
    api: TestClient, ctx: Context
) -> None:
    add_store(ctx)
    add_store(ctx, code="44-GZ-0001", name="广州天河营业厅", province_code="44", city="广州")
    (line,) = load(ctx, line_record(province="11"))
    far_clerk = add_staff(ctx, login="gz.wang", province_code="44", store_code="44-GZ-0001")
    admin = add_staff(ctx, login="bj.admin", role="admin", store_code=None)
    path = f"/api/v1/lines/{line.msisdn}/audit"
    r = api.get(path, headers=_bearer(staff_token(ctx, far_clerk)))
    assert r.status_code == 200, r.text  # a store of any province serves any line
    r = api.get(path, headers=_bearer(staff_token(ctx, admin)))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    (other,) = load(ctx, line_record(province="11"))
    other_token = principals.issue(ctx.settings.key, other.id, other.msisdn, ctx.now(), 600)
    assert api.get(path, headers=_bearer(other_token)).status_code == 403
    assert api.get(path).status_code == 401
