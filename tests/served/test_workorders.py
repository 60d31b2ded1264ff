"""Work orders against a real `xiaohu serve` (both engines): a fraud-stopped line at a
Beijing counter on 30 September waits for Beijing's back office past National Day; approval
completes it with a refund and an SMS, rejection is a logged refusal, the overdue run tells the
owner once (`xiaohu run workorders` in a process of its own)."""

from __future__ import annotations

import datetime as dt
import subprocess
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import STAFF_PASSWORD, owner
from tests.served.flows import add_line
from tests.served.harness import SERVED_KEY, Served, add_rows, server_env, xiaohu_command
from xiaohu.cancellation.models import Refusal
from xiaohu.identity.passwords import hash_password
from xiaohu.kit.db import make_engine
from xiaohu.lines.models import Line
from xiaohu.principals import issue_staff
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

OPENED = "2026-09-30T10:00:00+08:00"
AT = dt.datetime.fromisoformat(OPENED)
STORE = "11-BJ-0301"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
STAFF = [
    (9301, "w.bj.clerk", "clerk", "11", STORE),
    (9302, "w.bj.review", "backoffice", "11", None),
    (9303, "w.gd.review", "backoffice", "44", None),
]


@pytest.fixture(scope="module")
def tokens(sandbox_server: Served) -> dict[str, str]:
    add_rows(
        sandbox_server,
        Store(code=STORE, name="北京营业厅", province_code="11", city="北京",
              kind="own_flagship", created_at=AT, updated_at=AT),
    )  # fmt: skip
    add_rows(
        sandbox_server,
        *(
            StaffMember(id=n, login=login, name="赵六", role=role, province_code=p,
                        store_code=s, password_hash=hash_password(STAFF_PASSWORD), failures=0,
                        created_at=AT, updated_at=AT)
            for n, login, role, p, s in STAFF
        ),
    )  # fmt: skip
    return {
        login: issue_staff(SERVED_KEY.encode(), staff_id=n, login=login, role=role,
                           province_code=p, store_code=s, now=AT, ttl_seconds=30 * 86400)
        for n, login, role, p, s in STAFF
    }  # fmt: skip


@pytest.fixture()
def at_opening(sandbox_server: Served) -> Served:
    r = sandbox_server.put("/api/v1/sandbox/clock", {"now": OPENED})
    assert r.status_code == 200, r.text
    return sandbox_server


def requested(server: Served, tokens: dict[str, str]) -> tuple[dict[str, Any], str, Any]:
    """A fraud-stopped line (and the owner's other line), its request at the counter: 202."""
    person = owner()
    rec = add_line(server, province="11", status="fraud_stop", owner=person, plan=PLAN_30,
                   balance={"cash_fen": 20000, "gift_fen": 0})  # fmt: skip
    other = add_line(server, province="11", owner=person, plan=PLAN_30)
    clerk = tokens["w.bj.clerk"]
    docs = {"owner": dict(rec["owner"])}
    checked = {"msisdn": rec["msisdn"], "documents": docs}
    check = server.post("/api/v1/store/cancellation-checks", checked, token=clerk).json()
    assert check["eligible"] is True and check["review_required"] is True, check
    body = {
        "msisdn": rec["msisdn"],
        "quote_id": check["quote"]["quote_id"],
        "documents": docs,
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w["code"] for w in check["warnings"]],
    }
    r = server.post("/api/v1/store/cancellations", body, token=clerk,
                    headers={"Idempotency-Key": f"wo-{rec['msisdn']}"})  # fmt: skip
    assert r.status_code == 202, r.text
    return rec, other["msisdn"], r.json()


def decide(server: Served, token: str, order_id: str, decision: str, key: str) -> Any:
    return server.post(f"/api/v1/workorders/{order_id}/decision",
                       {"decision": decision, "reason": "核查完毕"}, token=token,
                       headers={"Idempotency-Key": key})  # fmt: skip


def sms(server: Served, msisdn: str) -> list[str]:
    return [m["text"] for m in server.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
            .json()["messages"]]  # fmt: skip


def line_status(server: Served, msisdn: str) -> tuple[str, int]:
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as s:
            line = s.scalars(select(Line).where(Line.msisdn == msisdn)).one()
            return line.status, line.cash_fen
    finally:
        engine.dispose()


def test_approved_after_national_day_with_refund_and_sms(
    at_opening: Served, tokens: dict[str, str]
) -> None:
    server = at_opening
    rec, other, body = requested(server, tokens)
    assert body["status"] == "pending_review"
    assert body["work_order"]["due_at"] == "2026-10-09T16:00:00Z"
    order_id = body["work_order"]["id"]
    server.put("/api/v1/sandbox/clock", {"now": "2026-10-08T15:00:00+08:00"})
    r = decide(server, tokens["w.gd.review"], order_id, "approve", "gd")
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = decide(server, tokens["w.bj.review"], order_id, "approve", "bj-1")
    assert r.status_code == 200, r.text
    c = r.json()["cancellation"]
    assert c["status"] == "cancelled" and c["refund"]["refund_now_fen"] > 0
    assert line_status(server, rec["msisdn"])[0] == "cancelled"
    assert any(c["reference"] in t for t in sms(server, other))
    again = decide(server, tokens["w.bj.review"], order_id, "approve", "bj-1")
    assert again.status_code == 200 and again.json() == r.json()
    twice = decide(server, tokens["w.bj.review"], order_id, "reject", "bj-2")
    assert twice.status_code == 409 and twice.json()["code"] == "WORK_ORDER_DECIDED"
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True


def test_rejected_the_line_stays_and_the_refusal_is_logged(
    at_opening: Served, tokens: dict[str, str]
) -> None:
    server = at_opening
    rec, _, body = requested(server, tokens)
    r = decide(server, tokens["w.bj.review"], body["work_order"]["id"], "reject", "rj-1")
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["status"] == "rejected"
    assert line_status(server, rec["msisdn"]) == ("fraud_stop", 20000)
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as s:
            line_id = s.scalar(select(Line.id).where(Line.msisdn == rec["msisdn"]))
            refusal = s.scalars(select(Refusal).where(Refusal.line_id == line_id)).one()
    finally:
        engine.dispose()
    assert refusal.codes == ["REVIEW_REJECTED"]
    assert refusal.blockers is not None and refusal.blockers[0]["reason"] == "核查完毕"
    assert any("核查完毕" in t for t in sms(server, rec["msisdn"]))


def test_overdue_flagged_and_the_owner_told_once_by_the_run(
    at_opening: Served, tokens: dict[str, str]
) -> None:
    server = at_opening
    rec, _, body = requested(server, tokens)
    server.put("/api/v1/sandbox/clock", {"now": "2026-10-10T09:00:00+08:00"})
    late = server.get("/api/v1/workorders?status=overdue", token=tokens["w.bj.review"]).json()
    assert body["work_order"]["id"] in [o["id"] for o in late["work_orders"]]
    assert all(o["overdue"] for o in late["work_orders"])
    env = server_env(server.database_url, "sandbox")
    for _ in range(2):
        done = subprocess.run(  # noqa: S603 - our own command line
            [*xiaohu_command(), "run", "workorders"], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    told = [t for t in sms(server, rec["msisdn"]) if "超过承诺时限" in t]
    assert len(told) == 1 and body["reference"] in told[0]
