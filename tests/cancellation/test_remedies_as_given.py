"""Every remedy in a check is usable as given (API.md): a request to its `href` with its
`method` (and `{"amount_fen": <the blocker's amount>}` for a payment; the first concrete option
where the remedy lists options) made with the same token clears that blocker, including
arrears owed on another line of the same owner and a cancelled line's shortfall."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cancellation.support import T0, Api, assert_books_consistent
from tests.factories import line_record, owner
from xiaohu.runtime import Runtime

DEC1 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=T0.tzinfo)
BILL = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]
HANDSET = {
    "id": "C-1",
    "kind": "handset",
    "starts_on": "2025-06-01",
    "ends_on": "2027-05-31",
    "handset_list_price_fen": 150000,
    "handset_promo_price_fen": 100000,
    "gift_prestore_remaining_fen": 0,
}
SITUATIONS = st.fixed_dictionaries(
    {
        "province": st.sampled_from(["11", "33"]),  # Beijing: owner-scoped arrears
        "own_arrears": st.booleans(),
        "shortfall": st.booleans(),  # too little cash for the final bill
        "other_arrears": st.booleans(),
        "cancelled_shortfall": st.booleans(),
        "contract": st.booleans(),
        "bundle": st.booleans(),
        "family": st.booleans(),
        "order": st.booleans(),
    }
)


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield Api(client)
    with runtime.sessions() as s:
        assert_books_consistent(s)


def key(blocker: dict[str, Any]) -> tuple[str, str | None]:
    return blocker["code"], (blocker.get("remedy") or {}).get("href")


def body_of(blocker: dict[str, Any]) -> dict[str, Any] | None:
    """What the remedy itself says to send: the amount to pay, or its first option that has
    no placeholder in it."""
    remedy = blocker["remedy"]
    if remedy["action"] == "pay":
        assert remedy["amount_fen"] == blocker["amount_fen"]
        return {"amount_fen": blocker["amount_fen"]}
    for option in remedy.get("options", []):
        if not any(str(v).startswith("<") for v in option.values()):
            return dict(option)
    return None


def cancelled_with_shortfall(api: Api, person: dict[str, str], province: str) -> str:
    """Another line of the owner, cancelled at T0; late roaming above its reserve leaves a
    shortfall on it when November closes."""
    rec = line_record(province=province, owner=person, balance={"cash_fen": 20000, "gift_fen": 0})
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    r = api.cancel(rec, api.check(m))
    assert r.status_code == 201, r.text
    late = r.json()["refund"]["reserve_fen"] + 1234
    r = api.client.post("/api/v1/sandbox/usage", json={"msisdn": m, "amount_fen": late})
    assert r.status_code == 201, r.text
    return m


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(s=SITUATIONS)
def test_every_remedy_followed_as_given_clears_its_blocker(api: Api, s: dict[str, Any]) -> None:
    api.set_clock(T0)
    person = owner()
    p = s["province"]
    if s["cancelled_shortfall"]:
        cancelled_with_shortfall(api, person, p)
    api.set_clock(DEC1)
    r = api.client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"})
    assert r.status_code == 200, r.text
    records = []
    if s["other_arrears"]:
        records.append(line_record(province=p, owner=person, unpaid_bills=BILL))
    if s["family"]:
        records.append(line_record(province=p, family={"group_id": f"F-{p}", "role": "member"}))
    main = line_record(
        province=p,
        owner=person,
        balance={"cash_fen": 100 if s["shortfall"] else 30000, "gift_fen": 0},
        unpaid_bills=BILL if s["own_arrears"] else [],
        contracts=[HANDSET] if s["contract"] else [],
        pending_orders=[{"id": "O-1", "kind": "plan_change"}] if s["order"] else [],
        **({"bundle": {"id": f"BB-{p}", "role": "anchor"}} if s["bundle"] else {}),
    )
    if s["family"]:  # a group of its own: ids are per import, the member was loaded with it
        group = f"F-{main['msisdn']}"
        records[-1]["family"]["group_id"] = group
        main["family"] = {"group_id": group, "role": "primary"}
    if s["bundle"]:
        main["bundle"]["id"] = f"BB-{main['msisdn']}"
    api.import_lines(*records, main)
    m = main["msisdn"]
    headers = api.sign_in(m)

    followed = 0
    for _ in range(4):  # paying a penalty from cash can open a final-bill shortfall: again
        check = api.check(m)
        if check["eligible"]:
            break
        for blocker in check["blockers"]:
            remedy = blocker["remedy"]
            assert remedy["method"] == "POST" and remedy["href"], blocker
            r = api.client.post(remedy["href"], json=body_of(blocker), headers=headers)
            assert r.status_code in (200, 201), (blocker, r.text)
            followed += 1
            after = api.check(m)
            assert key(blocker) not in {key(b) for b in after["blockers"]}, (blocker, after)
    check = api.check(m)
    assert check["eligible"] is True, check["blockers"]
    expect = sum(
        [
            s["own_arrears"] or s["shortfall"],
            p == "11" and s["other_arrears"],
            p == "11" and s["cancelled_shortfall"],
            s["contract"],
            s["bundle"],
            s["family"],
            s["order"],
        ]
    )
    assert followed >= expect
    api.books()
    r = api.cancel(main, check)
    assert r.status_code == 201, r.text
