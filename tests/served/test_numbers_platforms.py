"""Reclaim during quarantine, the recycled-number check and the ID lookup against a real
`xiaohu serve` (both engines). The server runs a policy with a reclaim fee (20 yuan), so
the fee's cash lands in the drawer; stores and clerks are written into its database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import STAFF_PASSWORD, msisdn, owner
from tests.served.flows import NOW, add_line, cancel, check, sign_in
from tests.served.harness import Served, add_rows, serve
from tests.served.staffing import served_token
from xiaohu.identity.passwords import hash_password
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
AT = dt.datetime.fromisoformat(NOW)
BJ, GZ = "11-BJ-0301", "44-GZ-0301"
FEE = 2000
CHECKS = "/api/v1/platform/recycled-checks"
DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "src/xiaohu/policy/default.toml"


@pytest.fixture(scope="module")
def fee_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The shipped policy with a reclaim fee."""
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    policy.write_text(text.replace("[defaults]\n", f"[defaults]\nreclaim_fee_fen = {FEE}\n", 1),
                      encoding="utf-8")  # fmt: skip
    with serve("sandbox", env={"XIAOHU_POLICY_FILE": str(policy)}) as server:
        add_rows(
            server,
            Store(code=BJ, name="北京营业厅", province_code="11", city="北京",
                  kind="own_flagship", created_at=AT, updated_at=AT),
            Store(code=GZ, name="广州营业厅", province_code="44", city="广州",
                  kind="own_flagship", created_at=AT, updated_at=AT),
        )  # fmt: skip
        add_rows(
            server,
            *(
                StaffMember(id=n, login=login, name="王五", role="clerk", province_code=p,
                            store_code=store, password_hash=hash_password(STAFF_PASSWORD),
                            failures=0, created_at=AT, updated_at=AT)
                for n, login, p, store in ((9301, "r.bj", "11", BJ), (9302, "r.gz", "44", GZ))
            ),
        )  # fmt: skip
        yield server


@pytest.fixture()
def server(fee_server: Served) -> Served:
    r = fee_server.put("/api/v1/sandbox/clock", {"now": NOW})
    assert r.status_code == 200, r.text
    return fee_server


def clerk(login: str = "r.bj") -> str:
    n, p, store = (9301, "11", BJ) if login == "r.bj" else (9302, "44", GZ)
    return served_token(n, login, "clerk", p, store, ttl_seconds=200 * 86400)


def at(server: Served, when: dt.datetime) -> None:
    assert server.put("/api/v1/sandbox/clock", {"now": when.isoformat()}).status_code == 200


def platform_key(server: Served, name: str, **kw: Any) -> str:
    r = server.post("/api/v1/sandbox/platforms", {"name": name, **kw})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def changed(server: Served, key: str, number: str, since: str = "2026-01-01") -> bool:
    body = {"queries": [{"msisdn": number, "bound_since": since}]}
    r = server.post(CHECKS, body, headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "results": [{"msisdn": number, "changed": r.json()["results"][0]["changed"]}]
    }
    return bool(r.json()["results"][0]["changed"])


def cancelled_at_store(server: Served, token: str) -> tuple[dict[str, Any], str]:
    rec = add_line(server, province="11", plan=PLAN_30,
                   balance={"cash_fen": 20000, "gift_fen": 0})  # fmt: skip
    docs = {"owner": dict(rec["owner"])}
    r = server.post("/api/v1/store/cancellation-checks",
                    {"msisdn": rec["msisdn"], "documents": docs}, token=token)  # fmt: skip
    assert r.status_code == 200, r.text
    c = r.json()
    body = {"msisdn": rec["msisdn"], "quote_id": c["quote"]["quote_id"], "documents": docs,
            "refund_route": {"kind": "cash"},
            "acknowledged_warnings": [w["code"] for w in c["warnings"]]}  # fmt: skip
    r = server.post("/api/v1/store/cancellations", body, token=token)
    assert r.status_code == 201, r.text
    return rec, str(r.json()["id"])


def reclaim(server: Served, token: str, rec: dict[str, Any], **kw: Any) -> Any:
    docs = kw.pop("documents", None) or {"owner": dict(rec["owner"])}
    return server.post(f"/api/v1/store/numbers/{rec['msisdn']}/reclaim",
                       {"documents": docs, "payment_method": "cash"}, token=token,
                       headers={"Idempotency-Key": f"rc-{rec['msisdn']}"})  # fmt: skip


def books(server: Served) -> None:
    assert server.get("/api/v1/admin/ledger/trial-balance").json()["balanced"] is True
    assert server.get("/api/v1/admin/audit/verify").json()["intact"] is True


def test_reclaim_pays_cash_into_the_drawer_and_the_number_is_unchanged_again(
    server: Served,
) -> None:
    token = clerk()
    key = platform_key(server, "served-bank")
    rec, _ = cancelled_at_store(server, token)
    m = rec["msisdn"]
    assert changed(server, key, m) is True
    r = reclaim(server, token, rec)  # Beijing's undo window (48 h) is still open
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text
    at(server, AT + dt.timedelta(days=3))
    stranger = {"owner": {**owner(), "id_type": "resident_id"}}
    r = reclaim(server, token, rec, documents=stranger)
    assert r.status_code == 403 and r.json()["code"] == "NOT_FORMER_OWNER", r.text
    day = "2026-11-27"
    before = server.get("/api/v1/store/drawer", params={"date": day}, token=token).json()
    r = reclaim(server, token, rec)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active" and r.json()["reclaim_fee_fen"] == FEE
    after = server.get("/api/v1/store/drawer", params={"date": day}, token=token).json()
    assert after["cash_in_fen"] - before["cash_in_fen"] == FEE and after["reconciled"] is True
    assert changed(server, key, m) is False  # the former owner's again: nothing changed hands
    line = server.get(f"/api/v1/lines/{m}", token=sign_in(server, m)).json()
    assert line["status"] == "active"
    books(server)


def test_no_reclaim_after_release(server: Served) -> None:
    token = clerk()
    rec, _ = cancelled_at_store(server, token)
    at(server, dt.datetime(2027, 3, 2, 10, 0, tzinfo=AT.tzinfo))  # 90 days of quarantine over
    r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2027-02"})
    assert r.status_code == 200, r.text
    r = reclaim(server, token, rec)
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text


def test_the_check_before_and_after_a_cancellation_and_its_reversal(server: Served) -> None:
    key = platform_key(server, "served-social")
    rec = add_line(server, province="44", plan=PLAN_30, balance={"cash_fen": 9000, "gift_fen": 0})
    m = rec["msisdn"]
    assert changed(server, key, m) is False
    token = sign_in(server, m)
    r = cancel(server, rec, token, check(server, m, token))
    assert r.status_code == 201, r.text
    assert changed(server, key, m, "2026-11-24") is True
    assert changed(server, key, m, "2026-11-25") is False  # bound after the cancellation
    r = server.post(f"/api/v1/cancellations/{r.json()['id']}/reversal", token=token)
    assert r.status_code == 200, r.text
    assert changed(server, key, m) is False
    books(server)


def test_key_batch_and_rate_refusals(server: Served) -> None:
    key = platform_key(server, "served-shop", requests_per_minute=2)
    one = {"queries": [{"msisdn": msisdn("11"), "bound_since": "2026-01-01"}]}
    for wrong in ({}, {"X-Api-Key": "xhp_wrong"}):
        r = server.post(CHECKS, one, headers=wrong)
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED", r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    many = {"queries": one["queries"] * 1001}
    r = server.post(CHECKS, many, headers={"X-Api-Key": key})
    assert r.status_code == 422 and r.json()["code"] == "TOO_MANY_QUERIES", r.text
    assert server.post(CHECKS, one, headers={"X-Api-Key": key}).status_code == 200
    r = server.post(CHECKS, one, headers={"X-Api-Key": key})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED", r.text
    assert r.json()["retry_after"] >= 1 and r.headers["Retry-After"] == str(r.json()["retry_after"])


def test_id_lookup_across_two_provinces(server: Served) -> None:
    me = owner()
    money = {"plan": PLAN_30, "balance": {"cash_fen": 5000, "gift_fen": 0}}
    bj = add_line(server, province="11", owner=me, **money)
    gd = add_line(server, province="44", owner=me, **money)
    add_line(server, province="11")  # someone else's
    token = sign_in(server, gd["msisdn"])
    r = server.post("/api/v1/id-lookup", {"name": me["name"], "id_number": me["id_number"]},
                    token=token)  # fmt: skip
    assert r.status_code == 200, r.text
    masked = {x["msisdn_masked"]: x["home_province"] for x in r.json()["lines"]}
    assert masked == {
        bj["msisdn"][:3] + "****" + bj["msisdn"][-4:]: "11",
        gd["msisdn"][:3] + "****" + gd["msisdn"][-4:]: "44",
    }
    r = server.post("/api/v1/id-lookup", {"name": "别人", "id_number": me["id_number"]},
                    token=token)  # fmt: skip
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text
