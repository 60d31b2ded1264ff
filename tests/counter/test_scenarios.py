"""The article's stories at a store's counter, over HTTP: each ends with the books balanced,
every line's balances equal to its sub-ledgers, the audit chain intact and naming the clerk."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.cancellation.support import Api
from tests.counter.support import PARTNER, STORE, Counter, Desk, beijing, documents, person
from xiaohu.audit.models import AuditEvent
from xiaohu.billing.models import Refund
from xiaohu.cancellation.models import Cancellation, Refusal
from xiaohu.ledger.service import trial_balance
from xiaohu.runtime import Runtime


def actors(runtime: Runtime, msisdn: str) -> dict[str, str]:
    """Each audit action on the line, with its actor (the latest of each)."""
    with runtime.sessions() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.subject == f"line:{msisdn}")
            .order_by(AuditEvent.id)
        ).all()
    return {action: actor for action, actor in rows}


def drawer_account_balance(runtime: Runtime, store: str) -> int:
    with runtime.sessions() as s:
        accounts = trial_balance(s)["accounts"]
    found = [a for a in accounts if a["code"] == f"store_drawer:{store}"]  # type: ignore[index]
    return int(found[0]["balance_fen"]) if found else 0  # type: ignore[index]


def test_owner_without_the_sim_card_cancels_at_a_store_for_cash(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    """The owner lost the SIM card long ago: no SMS, no app; the ID card is enough at a store.
    The arrears are paid in cash at the counter, the balance comes back in cash from the
    drawer, and the drawer's day reconciles to the ledger to the fen."""
    rec = beijing(
        balance={"cash_fen": 0, "gift_fen": 0},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
    )
    api.import_lines(rec)
    m = rec["msisdn"]
    at = Counter(client, desk.clerk)
    r = at.check(rec)
    assert r.status_code == 200, r.text
    first = r.json()
    assert [b["code"] for b in first["blockers"]] == ["ARREARS"]
    assert first["channel"] == "store" and first["store_code"] == STORE
    assert first["home_province"] == "11" and first["handling_province"] == "11"
    assert first["cross_region"] is False and first["review_required"] is False
    owed = first["blockers"][0]["amount_fen"]

    r = at.pay(m, owed + 10000)  # the arrears, and 100 yuan more the line will give back
    assert r.status_code == 201, r.text
    assert r.json()["applied"] == [{"period": "2026-10", "amount_fen": 3800}]
    check = at.check(rec).json()
    assert check["eligible"] is True, check["blockers"]
    refund_now = check["quote"]["refund_now_fen"]
    assert refund_now > 0

    r = at.cancel(rec, check, key="counter-1")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "cancelled" and out["channel"] == "store"
    assert out["store_code"] == STORE and out["handling_province"] == "11"
    assert out["cross_region"] is False
    assert out["refund"]["route"] == {"kind": "cash", "store_code": STORE}
    assert out["refund"]["status"] == "paid" and out["refund"]["refund_now_fen"] == refund_now

    with runtime.sessions() as s:
        refund = s.scalars(select(Refund).where(Refund.cancellation_id == out["id"])).one()
        row = s.get(Cancellation, out["id"])
        assert row is not None
        assert (row.store_code, row.staff_login, row.channel) == (STORE, "bj.wang", "store")
    assert refund.status == "paid" and refund.route == {"kind": "cash", "store_code": STORE}

    report = at.drawer().json()
    assert report["cash_in_fen"] == owed + 10000
    assert report["cash_out_fen"] == refund_now
    assert report["closing_fen"] == owed + 10000 - refund_now
    assert (
        report["ledger_balance_fen"]
        == report["closing_fen"]
        == drawer_account_balance(runtime, STORE)
    )
    assert report["reconciled"] is True
    assert [mv["kind"] for mv in report["movements"]] == ["payment.received", "cancellation.refund"]
    assert report["movements"][1]["amount_fen"] == -refund_now
    assert report["movements"][0]["msisdn_masked"] == m[:3] + "****" + m[-4:]

    seen = actors(runtime, m)
    assert seen["cancellation.completed"] == "clerk:bj.wang"
    assert seen["payment.received"] == "clerk:bj.wang"


def test_a_proxy_without_the_letter_then_with_it(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    """A son comes for his father: without the letter of authorization the clerk names what
    is missing and nothing is written but the refusal's evidence; with it, 201."""
    rec = beijing()
    api.import_lines(rec)
    m = rec["msisdn"]
    at = Counter(client, desk.clerk)
    son = person("王小明")
    with runtime.sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    check = at.check(rec).json()
    r = at.cancel(rec, check, documents(rec, agent=son))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "DOCUMENTS_MISSING"
    assert r.json()["missing"] == ["authorization_letter"]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Cancellation)) == 0
        events = s.scalars(select(AuditEvent).where(AuditEvent.id > 0).order_by(AuditEvent.id))
        new = [e for e in events][before:]
    assert [e.action for e in new] == ["store.documents_refused"]
    assert new[0].actor == "clerk:bj.wang" and new[0].data["missing"] == ["authorization_letter"]

    r = at.cancel(rec, check, documents(rec, agent=son, letter="WT-2026-001"), key="proxy-1")
    assert r.status_code == 201, r.text
    with runtime.sessions() as s:
        done = s.scalars(
            select(AuditEvent).where(
                AuditEvent.subject == f"line:{m}", AuditEvent.action == "cancellation.completed"
            )
        ).one()
    seen = done.data["documents_seen"]
    assert seen["authorization_letter"] == "WT-2026-001" and seen["originals_seen"] is True
    assert "*" in seen["agent"]["id_number_masked"]
    assert son["id_number"] not in str(done.data)
    assert done.actor == "clerk:bj.wang"


def test_a_small_partner_hall_refuses_and_lists_the_halls_that_can(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing()
    api.import_lines(rec)
    at = Counter(client, desk.partner_clerk)
    check = at.check(rec).json()
    assert check["eligible"] is False
    (blocker,) = check["blockers"]
    assert blocker["code"] == "CHANNEL_NOT_ALLOWED"
    codes = [s["code"] for s in blocker["remedy"]["stores"]]
    assert codes == [STORE, "11-BJ-0002"]  # the flagship first; never the partner itself
    assert all(s["can_cancel"] for s in blocker["remedy"]["stores"])
    assert blocker["remedy"]["stores_href"].startswith("/api/v1/stores?province_code=11")

    r = at.cancel(rec, check)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "CANCELLATION_BLOCKED"
    assert [b["code"] for b in r.json()["blockers"]] == ["CHANNEL_NOT_ALLOWED"]
    with runtime.sessions() as s:
        refusal = s.scalars(select(Refusal)).one()
        assert s.scalar(select(func.count()).select_from(Cancellation)) == 0
    assert (refusal.channel, refusal.store_code, refusal.staff_login) == (
        "store", PARTNER, "bj.partner",
    )  # fmt: skip
    assert refusal.codes == ["CHANNEL_NOT_ALLOWED"] and refusal.reference.startswith("RF")
    assert actors(runtime, rec["msisdn"])["cancellation.refused"] == "clerk:bj.partner"


def test_a_lost_line_lifted_at_the_counter_then_cancelled(
    api: Api, client: TestClient, desk: Desk, runtime: Runtime
) -> None:
    rec = beijing(status="lost")
    api.import_lines(rec)
    m = rec["msisdn"]
    at = Counter(client, desk.clerk)
    check = at.check(rec).json()
    (blocker,) = check["blockers"]
    assert blocker["code"] == "ABNORMAL_STATE" and blocker["state"] == "lost"
    remedy = blocker["remedy"]
    assert remedy["where"] == "counter" and remedy["method"] == "POST"
    assert remedy["href"] == f"/api/v1/store/lines/{m}/lost-state/lift"

    r = client.post(remedy["href"], json={"documents": documents(rec)}, headers=desk.clerk)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    r = at.cancel(rec, check)  # the quote was made before the lift: the line changed
    assert r.status_code == 409 and r.json()["code"] == "QUOTE_EXPIRED", r.text

    check = at.check(rec).json()
    assert check["eligible"] is True, check["blockers"]
    r = at.cancel(rec, check, refund_route={"kind": "original"})
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["route"]["kind"] == "original"
    seen = actors(runtime, m)
    assert seen["line.lost_lifted"] == "clerk:bj.wang"
    assert seen["cancellation.completed"] == "clerk:bj.wang"


def test_a_line_never_registered_gets_its_real_name_at_the_counter(
    api: Api, client: TestClient, desk: Desk
) -> None:
    rec = beijing(real_name_verified=False)
    api.import_lines(rec)
    m = rec["msisdn"]
    at = Counter(client, desk.clerk)
    proxy = documents(rec, agent=person(), letter="WT-9")
    blocker = at.check(rec, proxy).json()["blockers"][0]
    assert blocker["code"] == "NOT_REAL_NAME" and "where" not in blocker["remedy"]
    r = client.post(
        f"/api/v1/store/lines/{m}/real-name", json={"documents": proxy}, headers=desk.clerk
    )
    assert r.status_code == 409 and r.json()["code"] == "NOT_AT_COUNTER", r.text

    blocker = at.check(rec).json()["blockers"][0]
    assert blocker["remedy"]["where"] == "counter"
    r = client.post(blocker["remedy"]["href"], json={"documents": documents(rec)},
                    headers=desk.clerk)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["real_name_verified"] is True
    assert at.check(rec).json()["eligible"] is True


def test_fraud_stop_and_judicial_freeze_are_not_the_counters_to_lift(
    api: Api, client: TestClient, desk: Desk
) -> None:
    for status in ("fraud_stop", "judicial_freeze"):
        rec = beijing(status=status)
        api.import_lines(rec)
        check = Counter(client, desk.clerk).check(rec).json()
        if status == "fraud_stop":  # the home province's back office decides (work orders)
            assert check["eligible"] is True and check["blockers"] == []
            assert check["review_required"] is True and check["review_reasons"] == ["fraud_stop"]
        else:
            blocker = check["blockers"][0]
            assert blocker["code"] == "ABNORMAL_STATE" and blocker["state"] == status
            assert "where" not in blocker["remedy"]
        r = client.post(
            f"/api/v1/store/lines/{rec['msisdn']}/lost-state/lift",
            json={"documents": documents(rec)},
            headers=desk.clerk,
        )
        assert r.status_code == 409 and r.json()["code"] == "NOTHING_TO_CLEAR", r.text
