"""Reclaim during quarantine (号码找回) at a counter, in process: the fee into the drawer, the
number back as a new active line, and each refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api
from tests.counter.support import OTHER_PROVINCE, STORE, Counter, beijing, documents, person
from tests.factories import add_staff, add_store
from xiaohu.billing.models import Payment
from xiaohu.cancellation.models import Cancellation
from xiaohu.lines.models import Line
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context, Runtime
from xiaohu.staff.service import issue_token

DAYS = 86400


@pytest.fixture()
def clerks(ctx: Context) -> dict[str, dict[str, str]]:
    """Clerks whose tokens outlive the quarantine (the tests move the clock by months)."""
    add_store(ctx, code=STORE)
    add_store(ctx, code="11-BJ-0900", name="北京某合作厅", kind="partner")
    add_store(ctx, code=OTHER_PROVINCE, name="广州天河营业厅", province_code="44", city="广州")
    out = {}
    for login, store, province in (
        ("bj.wang", STORE, "11"),
        ("bj.partner", "11-BJ-0900", "11"),
        ("gz.li", OTHER_PROVINCE, "44"),
    ):
        member = add_staff(ctx, login=login, store_code=store, province_code=province)
        token = issue_token(ctx, member, ctx.now(), 200 * DAYS)
        out[login] = {"Authorization": f"Bearer {token}"}
    ctx.session.commit()
    return out


def with_fee(runtime: Runtime, fee: int) -> None:
    policy = runtime.policy
    defaults = policy.defaults.model_copy(update={"reclaim_fee_fen": fee})
    runtime.policy = policy.model_copy(update={"defaults": defaults})


def cancelled_at_store(api: Api, at: Counter) -> tuple[dict[str, Any], dict[str, Any]]:
    rec = beijing()
    api.import_lines(rec)
    r = at.check(rec)
    assert r.status_code == 200, r.text
    r = at.cancel(rec, r.json())
    assert r.status_code == 201, r.text
    return rec, r.json()


def reclaim(client: TestClient, auth: dict[str, str], rec: dict[str, Any], **kw: Any) -> Any:
    docs = kw.pop("docs", None) or documents(rec)
    headers = {**auth, **({"Idempotency-Key": kw.pop("key")} if "key" in kw else {})}
    return client.post(
        f"/api/v1/store/numbers/{rec['msisdn']}/reclaim",
        json={"documents": docs, **kw},
        headers=headers,
    )


def test_the_former_owner_pays_cash_and_has_the_number_back(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    clerk = clerks["bj.wang"]
    rec, cancelled = cancelled_at_store(api, Counter(client, clerk))
    m = rec["msisdn"]
    r = reclaim(client, clerk, rec)  # inside Beijing's 48-hour undo window
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text
    assert "reversal" in r.json()["detail"]
    api.set_clock(T0 + dt.timedelta(days=3))
    stranger = documents({"owner": person("张三")})
    r = reclaim(client, clerk, rec, docs=stranger)
    assert r.status_code == 403 and r.json()["code"] == "NOT_FORMER_OWNER", r.text
    assert r.json()["attempts_left"] == 4
    with_fee(runtime, 2000)
    drawer = Counter(client, clerk).drawer(date="2026-11-27").json()
    r = reclaim(client, clerk, rec, payment_method="cash", key=f"rc-{m}")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "active" and out["status_reason"] == "reclaimed"
    assert out["opened_on"] == "2026-11-27" and out["reclaim_fee_fen"] == 2000
    assert out["cancellation_id"] == cancelled["id"] and out["cross_region"] is False
    again = reclaim(client, clerk, rec, payment_method="cash", key=f"rc-{m}")
    assert again.status_code == 201 and again.json() == out  # replayed, not charged twice
    after = Counter(client, clerk).drawer(date="2026-11-27").json()
    assert after["cash_in_fen"] - drawer["cash_in_fen"] == 2000 and after["reconciled"]
    with runtime.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == m)).one()
        assert (line.status, line.cash_fen, line.gift_fen) == ("active", 0, 0)
        c = s.get(Cancellation, cancelled["id"])
        assert c is not None and c.reclaimed_at is not None and c.account_status == "closed"
        assert s.get(NumberRecord, m).status == "assigned"  # type: ignore[union-attr]
        assert s.scalars(select(Payment).where(Payment.line_id == line.id)).one().amount_fen == 2000
    r = reclaim(client, clerk, rec)
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE"
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": m}).json()["messages"]
    assert sms[0]["kind"] == "number.reclaimed"


def test_not_in_quarantine_when_never_cancelled_or_released(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]]
) -> None:
    clerk = clerks["bj.wang"]
    live = beijing()
    api.import_lines(live)
    r = reclaim(client, clerk, live)
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text
    r = reclaim(client, clerk, beijing())  # never known here
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text
    rec, _ = cancelled_at_store(api, Counter(client, clerk))
    api.set_clock(T0 + dt.timedelta(days=91))  # the 90 days of quarantine are over
    r = reclaim(client, clerk, rec)
    assert r.status_code == 409 and r.json()["code"] == "NOT_IN_QUARANTINE", r.text


def test_a_partner_hall_may_not_and_another_province_may(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    rec, _ = cancelled_at_store(api, Counter(client, clerks["bj.wang"]))
    api.set_clock(T0 + dt.timedelta(days=5))
    r = reclaim(client, clerks["bj.partner"], rec)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN", r.text
    with_fee(runtime, 1500)
    r = reclaim(client, clerks["gz.li"], rec, payment_method="cash")
    assert r.status_code == 201, r.text
    assert r.json()["cross_region"] is True and r.json()["handling_province"] == "44"
    gz = Counter(client, clerks["gz.li"]).drawer(date="2026-11-29").json()
    assert gz["cash_in_fen"] == 1500 and gz["reconciled"]


def test_what_the_closed_account_owes_is_paid_at_the_counter_before_the_number_comes_back(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]]
) -> None:
    clerk = clerks["bj.wang"]
    rec, cancelled = cancelled_at_store(api, Counter(client, clerk))
    m = rec["msisdn"]
    late = cancelled["refund"]["reserve_fen"] + 1500  # more late usage than the reserve holds
    assert client.post("/api/v1/sandbox/usage", json={"msisdn": m, "amount_fen": late}).is_success
    api.set_clock(T0 + dt.timedelta(days=8))
    r = reclaim(client, clerk, rec)  # its true-up, done now, leaves a shortfall of 15 yuan
    assert r.status_code == 409 and r.json()["code"] == "ARREARS", r.text
    owed = r.json()["amount_fen"]
    assert owed == 1500
    remedy = r.json()["remedy"]
    assert (remedy["href"], remedy["amount_fen"]) == ("/api/v1/store/payments", owed)
    paid = client.post(
        "/api/v1/store/payments",
        json={"msisdn": m, "amount_fen": owed, "method": "cash"},
        headers=clerk,
    )
    assert paid.status_code == 201, paid.text
    r = reclaim(client, clerk, rec)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
