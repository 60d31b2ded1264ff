"""A store of one province serving a line of another, over HTTP (in process): the home
province's rules price it, the cash the store hands over or takes in becomes a due in both
books, each province's books balance on their own, and the store's drawer reconciles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import Api, assert_books_consistent, checked_api
from tests.counter.support import Counter, bearer, documents
from tests.factories import add_staff, add_store, line_record, staff_token
from tests.interprovince.support import GZ_STORE, NJ_STORE, assert_provinces_balance, dues
from xiaohu.audit.service import verify
from xiaohu.cancellation.models import Cancellation
from xiaohu.interprovince.models import AppliedMessage
from xiaohu.ledger.models import JournalTransaction
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


@pytest.fixture()
def clerks(ctx: Context) -> dict[str, dict[str, str]]:
    """A clerk at Guangzhou (44) and one at Nanjing (32), and a hotline agent of Jiangsu."""
    add_store(ctx, code=GZ_STORE, name="广州天河营业厅", province_code="44", city="广州")
    add_store(ctx, code=NJ_STORE, name="南京新街口营业厅", province_code="32", city="南京")
    gz = add_staff(ctx, login="gz.li", province_code="44", store_code=GZ_STORE)
    nj = add_staff(ctx, login="nj.chen", province_code="32", store_code=NJ_STORE)
    out = {"gz": bearer(staff_token(ctx, gz)), "nj": bearer(staff_token(ctx, nj))}
    ctx.session.commit()
    return out


def jiangsu(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    return line_record(province="32", **values)


def books(runtime: Runtime) -> dict[tuple[str, str], tuple[int, int]]:
    """Every province's books checked; the dues between them."""
    with runtime.sessions() as s:
        assert_provinces_balance(s)
        assert_books_consistent(s)
        return dues(s)


def test_a_jiangsu_line_cancelled_for_cash_at_a_guangzhou_store(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    rec = jiangsu()
    api.import_lines(rec)
    at = Counter(client, clerks["gz"])
    r = at.check(rec)
    assert r.status_code == 200, r.text
    check = r.json()
    assert check["cross_region"] is True
    assert (check["home_province"], check["handling_province"]) == ("32", "44")
    assert check["eligible"] is True, check["blockers"]
    # The home province's rules priced it: the same quote a Jiangsu store gets.
    home = Counter(client, clerks["nj"]).check(rec).json()
    assert home["cross_region"] is False
    assert home["quote"]["refund_now_fen"] == check["quote"]["refund_now_fen"]
    check = at.check(rec).json()  # the latest quote
    refund = check["quote"]["refund_now_fen"]
    assert refund > 0

    r = at.cancel(rec, check, key="gz-cancel-1")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["cross_region"] is True and out["store_code"] == GZ_STORE
    assert (out["home_province"], out["handling_province"]) == ("32", "44")
    assert out["refund"]["status"] == "paid"
    assert out["refund"]["route"] == {"kind": "cash", "store_code": GZ_STORE}

    # Jiangsu owes Guangdong the refund, in both books; each province's books balance.
    assert books(runtime) == {("32", "44"): (refund, refund)}
    with runtime.sessions() as s:
        row = s.get(Cancellation, out["id"])
        assert row is not None and row.handling_province_code == "44"
        kinds = dict(
            s.execute(
                select(JournalTransaction.kind, JournalTransaction.province_code).where(
                    JournalTransaction.ref == out["id"],
                    JournalTransaction.kind.in_(
                        ["cancellation.refund", "interprovince.cash_refund"]
                    ),
                )
            ).all()
        )
        assert kinds == {"cancellation.refund": "32", "interprovince.cash_refund": "44"}
        assert verify(s)["intact"]
    for p, code in (("32", "due_to:32:44"), ("44", "due_from:44:32")):
        tb = client.get("/api/v1/admin/ledger/trial-balance", params={"province_code": p}).json()
        assert tb["province_code"] == p and tb["balanced"] is True
        assert tb["debits_fen"] == tb["credits_fen"]
        assert {a["code"] for a in tb["accounts"]} >= {code}
        assert all(a["code"].split(":")[1][:2] == p or a["code"] == "gateway_clearing"
                   for a in tb["accounts"]), tb  # fmt: skip
    national = client.get("/api/v1/admin/ledger/trial-balance").json()
    assert national["balanced"] is True and "province_code" not in national

    report = at.drawer().json()
    assert report["reconciled"] is True, report
    assert report["cash_out_fen"] == refund and report["ledger_balance_fen"] == -refund
    (move,) = report["movements"]
    assert move["kind"] == "interprovince.cash_refund" and move["reference"] == out["id"]
    assert move["msisdn_masked"] == rec["msisdn"][:3] + "****" + rec["msisdn"][-4:]

    # A retry of the request answers the same and moves no more money.
    again = at.cancel(rec, check, key="gz-cancel-1")
    assert again.status_code == 201 and again.json()["id"] == out["id"]
    assert books(runtime) == {("32", "44"): (refund, refund)}


def test_a_bad_province_code_for_the_trial_balance_is_422(client: TestClient) -> None:
    for bad in ("99", "4", "xx"):
        r = client.get("/api/v1/admin/ledger/trial-balance", params={"province_code": bad})
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text
        assert r.json()["errors"][0]["field"] == "province_code"
    r = client.get("/api/v1/admin/ledger/trial-balance", params={"province_code": "65"})
    assert r.status_code == 200 and r.json()["accounts"] == [] and r.json()["balanced"]


def test_arrears_collected_in_cash_for_another_province(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    """The Guangzhou store takes cash for a Jiangsu line's arrears and a top-up: Guangdong
    owes Jiangsu all of it. A card payment goes through Jiangsu's gateway: nothing owed."""
    rec = jiangsu(
        balance={"cash_fen": 0, "gift_fen": 0},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
    )
    api.import_lines(rec)
    at = Counter(client, clerks["gz"])
    r = at.pay(rec["msisdn"], 10000)
    assert r.status_code == 201, r.text
    assert r.json()["applied"] == [{"period": "2026-10", "amount_fen": 3800}]
    assert books(runtime) == {("44", "32"): (10000, 10000)}
    r = at.pay(rec["msisdn"], 700, method="card")
    assert r.status_code == 201, r.text
    assert books(runtime) == {("44", "32"): (10000, 10000)}
    with runtime.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == rec["msisdn"])).one()
        assert line.cash_fen == 10000 - 3800 + 700
    report = at.drawer().json()
    assert report["reconciled"] is True and report["cash_in_fen"] == 10000
    assert [m["kind"] for m in report["movements"]] == ["interprovince.cash_collected"]

    # Then the line is cancelled at the same store for cash: both ways owed, both books even.
    check = at.check(rec).json()
    refund = check["quote"]["refund_now_fen"]
    r = at.cancel(rec, check)
    assert r.status_code == 201, r.text
    assert books(runtime) == {("44", "32"): (10000, 10000), ("32", "44"): (refund, refund)}
    report = at.drawer().json()
    assert report["reconciled"] is True and report["closing_fen"] == 10000 - refund


def test_a_refund_transferred_to_the_owners_line_in_another_province(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    """The owner's Jiangsu line is cancelled with its refund sent to their Guangdong line:
    Jiangsu owes Guangdong, and the Guangdong line's balance rises in Guangdong's books."""
    rec = jiangsu()
    other = line_record(province="44", owner=rec["owner"], plan=PLAN_30,
                        balance={"cash_fen": 100, "gift_fen": 0})  # fmt: skip
    api.import_lines(rec, other)
    at = Counter(client, clerks["nj"])
    check = at.check(rec).json()
    refund = check["quote"]["refund_now_fen"]
    route = {"kind": "transfer", "to_msisdn": other["msisdn"]}
    r = at.cancel(rec, check, refund_route=route)
    assert r.status_code == 201, r.text
    assert r.json()["cross_region"] is False
    assert books(runtime) == {("32", "44"): (refund, refund)}
    with runtime.sessions() as s:
        target = s.scalars(select(Line).where(Line.msisdn == other["msisdn"])).one()
        assert target.cash_fen == 100 + refund


def test_a_cross_region_cancellation_reversed_at_the_store(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    """The reversal undoes Jiangsu's final bill in Jiangsu's books only; the cash handed over
    at Guangzhou stays handed over, still owed by Jiangsu."""
    rec = jiangsu()
    api.import_lines(rec)
    at = Counter(client, clerks["gz"])
    check = at.check(rec).json()
    out = at.cancel(rec, check).json()
    refund = out["refund"]["refund_now_fen"]
    r = client.post(
        f"/api/v1/cancellations/{out['id']}/reversal",
        json={"documents": documents(rec)},
        headers=clerks["gz"],
    )
    assert r.status_code == 200 and r.json()["status"] == "reversed", r.text
    assert books(runtime) == {("32", "44"): (refund, refund)}
    assert at.drawer().json()["reconciled"] is True


def test_each_message_is_applied_once(
    api: Api, client: TestClient, clerks: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    rec = jiangsu()
    api.import_lines(rec)
    at = Counter(client, clerks["gz"])
    at.cancel(rec, at.check(rec).json())
    with runtime.sessions() as s:
        applied = s.scalars(select(AppliedMessage)).all()
        assert [(m.kind, m.from_province, m.to_province) for m in applied] == [
            ("interprovince.cash_refund", "32", "44")
        ]
