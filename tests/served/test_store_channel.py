"""The store channel against a real `xiaohu serve` (both engines): the article's stories at a
counter over HTTP, and bad input refused with its code. Stores and staff are written straight
into the served database; the clerks' tokens are minted with the server's key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import STAFF_PASSWORD, new_resident_id
from tests.served.flows import NOW, add_line, sign_in
from tests.served.harness import Served, add_rows
from tests.served.staffing import served_token
from xiaohu.cancellation.models import Refusal
from xiaohu.identity.passwords import hash_password
from xiaohu.kit.db import make_engine
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
AT = dt.datetime.fromisoformat(NOW)
FLAGSHIP, PARTNER, GZ = "11-BJ-0101", "11-BJ-0190", "44-GZ-0101"


def _store(code: str, province: str, city: str, kind: str) -> Store:
    return Store(code=code, name=f"营业厅{code}", province_code=province, city=city, kind=kind,
                 created_at=AT, updated_at=AT)  # fmt: skip


def _staff(n: int, login: str, role: str, province: str, store: str | None) -> StaffMember:
    return StaffMember(id=n, login=login, name="王五", role=role, province_code=province,
                       store_code=store, password_hash=hash_password(STAFF_PASSWORD), failures=0,
                       created_at=AT, updated_at=AT)  # fmt: skip


def _token(n: int, login: str, role: str, province: str, store: str | None) -> str:
    return served_token(n, login, role, province, store, ttl_seconds=8 * 3600)


@pytest.fixture(scope="module")
def tokens(sandbox_server: Served) -> dict[str, str]:
    staff = [
        (9101, "s.bj.wang", "clerk", "11", FLAGSHIP),
        (9102, "s.bj.partner", "clerk", "11", PARTNER),
        (9103, "s.gz.li", "clerk", "44", GZ),
        (9104, "s.hl.zhao", "hotline_agent", "11", None),
    ]
    add_rows(
        sandbox_server,
        _store(FLAGSHIP, "11", "北京", "own_flagship"),
        _store(PARTNER, "11", "北京", "partner"),
        _store(GZ, "44", "广州", "own_flagship"),
    )
    add_rows(sandbox_server, *(_staff(*s) for s in staff))
    return {s[1]: _token(*s) for s in staff}


def docs(record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"owner": dict(record["owner"]), **extra}


def beijing(server: Served, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    return add_line(server, province="11", **values)


def store_check(server: Served, token: str, record: dict[str, Any], **d: Any) -> Any:
    body = {"msisdn": record["msisdn"], "documents": docs(record, **d)}
    return server.post("/api/v1/store/cancellation-checks", body, token=token)


def store_cancel(
    server: Served, token: str, record: dict[str, Any], check: dict[str, Any], **over: Any
) -> Any:
    body = {
        "msisdn": record["msisdn"],
        "quote_id": check["quote"]["quote_id"],
        "documents": docs(record),
        "refund_route": {"kind": "cash"},
        "acknowledged_warnings": [w["code"] for w in check["warnings"]],
        **over,
    }
    key = {"Idempotency-Key": f"k-{record['msisdn']}-{len(str(over))}"}
    return server.post("/api/v1/store/cancellations", body, token=token, headers=key)


def books(server: Served) -> None:
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True, tb
    audit = server.get("/api/v1/admin/audit/verify").json()
    assert audit["intact"] is True, audit


def test_owner_without_the_sim_pays_and_gets_cash_and_the_drawer_reconciles(
    server: Served, tokens: dict[str, str]
) -> None:
    clerk = tokens["s.bj.wang"]
    before = server.get("/api/v1/store/drawer", params={"date": "2026-11-24"}, token=clerk).json()
    bill = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}
    rec = beijing(server, balance={"cash_fen": 0, "gift_fen": 0}, unpaid_bills=[bill])
    check = store_check(server, clerk, rec).json()
    assert [b["code"] for b in check["blockers"]] == ["ARREARS"]
    assert check["channel"] == "store" and check["store_code"] == FLAGSHIP
    r = server.post("/api/v1/store/payments",
                    {"msisdn": rec["msisdn"], "amount_fen": 13800, "method": "cash"},
                    token=clerk, headers={"Idempotency-Key": f"pay-{rec['msisdn']}"})  # fmt: skip
    assert r.status_code == 201, r.text
    check = store_check(server, clerk, rec).json()
    assert check["eligible"] is True, check
    r = store_cancel(server, clerk, rec, check)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["refund"]["route"] == {"kind": "cash", "store_code": FLAGSHIP}
    assert out["refund"]["status"] == "paid"
    after = server.get("/api/v1/store/drawer", params={"date": "2026-11-24"}, token=clerk).json()
    assert after["reconciled"] is True
    assert after["cash_in_fen"] - before["cash_in_fen"] == 13800
    assert after["cash_out_fen"] - before["cash_out_fen"] == out["refund"]["refund_now_fen"]
    assert after["closing_fen"] == after["ledger_balance_fen"]
    r = server.get(f"/api/v1/cancellations/{out['id']}", token=clerk)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    books(server)


def test_a_proxy_without_the_letter_then_with_it(server: Served, tokens: dict[str, str]) -> None:
    clerk = tokens["s.bj.wang"]
    rec = beijing(server)
    son = {"id_type": "resident_id", "id_number": new_resident_id(), "name": "王小明"}
    r = store_check(server, clerk, rec, agent=son)
    assert r.status_code == 422 and r.json()["code"] == "DOCUMENTS_MISSING", r.text
    assert r.json()["missing"] == ["authorization_letter"]
    letter = {"reference": "WT-1"}
    check = store_check(server, clerk, rec, agent=son, authorization_letter=letter).json()
    assert check["eligible"] is True, check
    r = store_cancel(server, clerk, rec, check, documents=docs(rec, agent=son))
    assert r.status_code == 422 and r.json()["code"] == "DOCUMENTS_MISSING", r.text
    assert r.json()["missing"] == ["authorization_letter"]
    full = docs(rec, agent=son, authorization_letter=letter)
    r = store_cancel(server, clerk, rec, check, refund_route={"kind": "original"}, documents=full)
    assert r.status_code == 201, r.text
    books(server)


def test_a_partner_hall_refuses_with_the_halls_that_can(
    server: Served, tokens: dict[str, str]
) -> None:
    partner = tokens["s.bj.partner"]
    rec = beijing(server)
    check = store_check(server, partner, rec).json()
    (blocker,) = check["blockers"]
    assert blocker["code"] == "CHANNEL_NOT_ALLOWED"
    assert FLAGSHIP in [s["code"] for s in blocker["remedy"]["stores"]]
    assert PARTNER not in [s["code"] for s in blocker["remedy"]["stores"]]
    r = store_cancel(server, partner, rec, check)
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED", r.text
    assert r.json()["blockers"][0]["remedy"]["stores"] == blocker["remedy"]["stores"]
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            refusal = session.scalars(select(Refusal).where(Refusal.store_code == PARTNER)).one()
    finally:
        engine.dispose()
    assert refusal.codes == ["CHANNEL_NOT_ALLOWED"] and refusal.staff_login == "s.bj.partner"
    books(server)


def test_a_lost_line_lifted_at_the_counter_then_cancelled(
    server: Served, tokens: dict[str, str]
) -> None:
    clerk = tokens["s.bj.wang"]
    rec = beijing(server, status="lost")
    check = store_check(server, clerk, rec).json()
    remedy = check["blockers"][0]["remedy"]
    assert remedy["where"] == "counter"
    r = server.post(remedy["href"], {"documents": docs(rec)}, token=clerk)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    check = store_check(server, clerk, rec).json()
    assert check["eligible"] is True
    r = store_cancel(server, clerk, rec, check)
    assert r.status_code == 201, r.text
    books(server)


def test_bad_input_at_the_counter(server: Served, tokens: dict[str, str]) -> None:
    rec = beijing(server)
    m = rec["msisdn"]
    r = store_check(server, tokens["s.gz.li"], rec)  # another province's store: cross-region
    assert r.status_code == 200 and r.json()["cross_region"] is True, r.text
    r = store_check(server, tokens["s.hl.zhao"], rec)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = store_check(server, sign_in(server, m), rec)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    clerk = tokens["s.bj.wang"]
    path = "/api/v1/store/cancellation-checks"
    r = server.post(path, {"msisdn": m, "documents": docs(rec), "extra": 1}, token=clerk)
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    bad = dict(rec["owner"])
    bad["id_number"] = bad["id_number"][:17] + ("1" if bad["id_number"][17] != "1" else "2")
    r = server.post(path, {"msisdn": m, "documents": {"owner": bad}}, token=clerk)
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    assert r.json()["errors"][0]["field"] == "documents.owner.id_number"
    r = server.get("/api/v1/store/drawer", params={"store_code": GZ}, token=clerk)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    books(server)
