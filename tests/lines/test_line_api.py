"""GET /api/v1/lines/{msisdn} and its audit trail, for the line's own token."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import example_contracts, line_record, load, resident_id
from xiaohu import principals as tokens
from xiaohu.lines.models import Line
from xiaohu.overview.service import line_view
from xiaohu.runtime import Context, Runtime

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def auth(runtime: Runtime, line: Line, ttl: int = 1800) -> dict[str, str]:
    token = tokens.issue(runtime.settings.key, line.id, line.msisdn, NOW, ttl)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def clocked(client: TestClient) -> TestClient:
    client.put("/api/v1/sandbox/clock", json={"now": NOW.isoformat()})
    return client


def rich_record(number: str, **overrides: Any) -> dict[str, Any]:
    return line_record(
        msisdn=number,
        home={"province_code": "44", "city": "深圳"},
        owner={"name": "欧阳娜娜", "id_type": "resident_id", "id_number": number_id},
        plan={"code": "5G-199", "name": "5G畅享199元", "monthly_fee_fen": 19900},
        balance={"cash_fen": 12345, "gift_fen": 2000},
        unpaid_bills=[
            {"period": "2026-09", "amount_fen": 1000, "due_on": "2026-10-15"},
            {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"},
        ],
        contracts=example_contracts(),
        bundle={"id": "BB-1", "broadband_account": "075512345678", "role": "anchor"},
        family={"group_id": "F-1", "role": "primary"},
        pending_orders=[{"id": "O-1", "kind": "plan_change"}],
        **overrides,
    )


number_id = resident_id(region="440305", birth="19851224")


def test_line_view_has_the_contract_shape(
    ctx: Context, runtime: Runtime, clocked: TestClient
) -> None:
    (line,) = load(ctx, rich_record("13800138000"))
    ctx.session.commit()
    r = clocked.get("/api/v1/lines/13800138000", headers=auth(runtime, line))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["msisdn"] == "13800138000" and body["status"] == "active"
    assert body["home"] == {"province_code": "44", "province": "广东", "city": "深圳"}
    assert body["plan"] == {"code": "5G-199", "name": "5G畅享199元", "monthly_fee_fen": 19900}
    assert body["balance"] == {"cash_fen": 12345, "gift_fen": 2000}
    assert body["owner"] == {
        "name_masked": "**娜娜",
        "id_number_masked": number_id[:6] + "********" + number_id[-4:],
        "id_type": "resident_id",
    }
    assert body["arrears_fen"] == 4800
    assert body["opened_on"] == "2019-05-01"
    assert body["real_name_verified"] is True
    assert [(c["id"], c["kind"], c["ends_on"]) for c in body["contracts"]] == [
        ("C-1", "handset", "2026-12-31"),
        ("C-2", "premium_number", None),
    ]
    assert body["bundle"]["id"] == "BB-1" and body["bundle"]["role"] == "anchor"
    assert body["family"] == {"group_id": "F-1", "role": "primary"}
    assert body["pending_orders"] == [{"id": "O-1", "kind": "plan_change"}]
    # never the clear ID number or the birth date
    assert number_id not in r.text and "19851224" not in r.text


def test_plain_line_has_no_holds(ctx: Context) -> None:
    (line,) = load(ctx, line_record(msisdn="13800138000"))
    view = line_view(ctx, line.msisdn)
    assert view.home.province_code == "11" and view.home.province == "北京"
    assert view.arrears_fen == 0
    assert view.contracts == [] and view.bundle is None and view.family is None
    assert view.pending_orders == []


def test_arrears_count_only_this_line(ctx: Context) -> None:
    shared_owner = {"name": "张三", "id_type": "resident_id", "id_number": resident_id()}
    a, b = load(
        ctx,
        line_record(
            msisdn="13800138000",
            owner=shared_owner,
            unpaid_bills=[{"period": "2026-10", "amount_fen": 3800}],
        ),
        line_record(
            msisdn="13800138001",
            owner=shared_owner,
            unpaid_bills=[{"period": "2026-10", "amount_fen": 700}],
        ),
    )
    assert line_view(ctx, a.msisdn).arrears_fen == 3800
    assert line_view(ctx, b.msisdn).arrears_fen == 700


def test_other_lines_token_is_forbidden(
    ctx: Context, runtime: Runtime, clocked: TestClient
) -> None:
    a, b = load(ctx, line_record(msisdn="13800138000"), line_record(msisdn="13800138001"))
    ctx.session.commit()
    r = clocked.get(f"/api/v1/lines/{b.msisdn}", headers=auth(runtime, a))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")


def test_no_token_is_401(ctx: Context, clocked: TestClient) -> None:
    load(ctx, line_record(msisdn="13800138000"))
    ctx.session.commit()
    r = clocked.get("/api/v1/lines/13800138000")
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")


def test_expired_token_is_401(ctx: Context, runtime: Runtime, clocked: TestClient) -> None:
    (line,) = load(ctx, line_record(msisdn="13800138000"))
    ctx.session.commit()
    headers = auth(runtime, line, ttl=60)
    clocked.put("/api/v1/sandbox/clock", json={"now": (NOW + dt.timedelta(minutes=1)).isoformat()})
    assert clocked.get("/api/v1/lines/13800138000", headers=headers).status_code == 401


def test_audit_trail_shows_sign_in_events(
    ctx: Context, runtime: Runtime, clocked: TestClient
) -> None:
    (line,) = load(ctx, line_record(msisdn="13800138000"))
    ctx.session.commit()
    assert clocked.post("/api/v1/auth/otp", json={"msisdn": line.msisdn}).status_code == 202
    r = clocked.post(
        "/api/v1/auth/token",
        json={"msisdn": line.msisdn, "otp": "000000", "service_password": "000000"},
    )
    assert r.status_code in (401, 200)  # 000000 is the code one time in a million
    r = clocked.get(f"/api/v1/lines/{line.msisdn}/audit", headers=auth(runtime, line))
    assert r.status_code == 200
    events = r.json()["events"]
    acts = [e["action"] for e in events]
    assert acts[acts.index("auth.otp_sent") :][:2] == ["auth.otp_sent", "auth.failed"]
    failed = events[acts.index("auth.failed")]
    assert failed["data"]["failures"] == 1 and failed["actor"].startswith("api:")
    assert dt.datetime.fromisoformat(failed["occurred_at"]) == NOW
    assert "000000" not in r.text


def test_audit_trail_limit(ctx: Context, runtime: Runtime, clocked: TestClient) -> None:
    (line,) = load(ctx, line_record(msisdn="13800138000"))
    ctx.session.commit()
    clocked.post("/api/v1/auth/otp", json={"msisdn": line.msisdn})
    r = clocked.get(
        f"/api/v1/lines/{line.msisdn}/audit", params={"limit": 1}, headers=auth(runtime, line)
    )
    assert len(r.json()["events"]) == 1
