"""Paying what the owner's other lines owe: the remedy of an owner-scoped ARREARS blocker,
and a cancelled line's shortfall after its true-up (accepted up to what it owes, never cash)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api, checked_api, mint
from tests.factories import line_record, owner
from xiaohu.ledger.service import line_balance
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime

DEC1 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=T0.tzinfo)
BILL = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


def receivable(runtime: Runtime, msisdn: str) -> tuple[int, int]:
    with runtime.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == msisdn)).one()
        p = line.province_code
        # line_balance is credit-normal; a receivable is a debit balance.
        return line.cash_fen, -line_balance(s, f"receivables:{p}", line.id)


def test_beijing_arrears_on_another_line_are_paid_with_this_lines_token(api: Api) -> None:
    person = owner()
    other = line_record(province="11", owner=person, unpaid_bills=BILL)
    rec = line_record(province="11", owner=person, balance={"cash_fen": 30000, "gift_fen": 0})
    api.import_lines(other, rec)
    m = rec["msisdn"]
    auth = api.sign_in(m)
    [b] = api.check(m)["blockers"]
    assert (b["code"], b["amount_fen"]) == ("ARREARS", 3800)
    assert b["remedy"]["href"] == f"/api/v1/lines/{other['msisdn']}/payments"
    assert b["msisdn"] == other["msisdn"]
    r = api.client.post(b["remedy"]["href"], json={"amount_fen": 3800}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["applied"] == [{"period": "2026-10", "amount_fen": 3800}]
    # Paid off: another line's token settles bills only, it never tops up that line's cash.
    r = api.client.post(b["remedy"]["href"], json={"amount_fen": 100}, headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "PAYMENT_EXCEEDS_OWED", r.text
    check = api.check(m)
    assert check["eligible"] is True, check["blockers"]
    stranger = line_record(province="11", unpaid_bills=BILL)
    api.import_lines(stranger)
    r = api.client.post(
        f"/api/v1/lines/{stranger['msisdn']}/payments", json={"amount_fen": 100}, headers=auth
    )
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_a_cancelled_lines_shortfall_is_payable_and_never_becomes_cash(
    api: Api, runtime: Runtime
) -> None:
    person = owner()
    gone = line_record(province="11", owner=person, balance={"cash_fen": 20000, "gift_fen": 0})
    rec = line_record(province="11", owner=person, balance={"cash_fen": 30000, "gift_fen": 0})
    api.import_lines(gone, rec)
    g = gone["msisdn"]
    api.sign_in(g)
    out = api.cancel(gone, api.check(g)).json()
    reserve = out["refund"]["reserve_fen"]
    late = reserve + 1500
    r = api.client.post("/api/v1/sandbox/usage", json={"msisdn": g, "amount_fen": late})
    assert r.status_code == 201, r.text
    api.set_clock(DEC1)
    report = api.client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"})
    assert report.json()["shortfall_fen"] == 1500, report.text
    assert receivable(runtime, g) == (0, 1500)

    # From the owner's other line: its check points at the cancelled line's payments.
    m = rec["msisdn"]
    auth = api.sign_in(m)
    [b] = api.check(m)["blockers"]
    assert (b["code"], b["amount_fen"], b["line_status"]) == ("ARREARS", 1500, "cancelled")
    href = b["remedy"]["href"]
    assert href == f"/api/v1/lines/{g}/payments"
    too_much = api.client.post(href, json={"amount_fen": 1501}, headers=auth)
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["code"] == "PAYMENT_EXCEEDS_OWED"
    assert too_much.json()["owed_fen"] == 1500
    part = api.client.post(href, json={"amount_fen": 500}, headers=auth)
    assert part.status_code == 201, part.text
    assert part.json()["cash_balance_fen"] == 0
    assert receivable(runtime, g) == (0, 1000)

    # From the cancelled line's own token (signed in by its cancellation reference).
    mint(api, runtime, g, DEC1)
    rest = api.client.post(href, json={"amount_fen": 1000}, headers=api.auth(g))
    assert rest.status_code == 201, rest.text
    assert rest.json()["applied"] == [{"period": "2026-11", "amount_fen": 1000}]
    assert receivable(runtime, g) == (0, 0)
    again = api.client.post(href, json={"amount_fen": 1}, headers=api.auth(g))
    assert again.status_code == 422 and again.json()["code"] == "PAYMENT_EXCEEDS_OWED"
    check = api.check(m)
    assert check["eligible"] is True, check["blockers"]
    bills = api.client.get(f"/api/v1/lines/{g}/bills", headers=api.auth(g)).json()
    assert bills["arrears_fen"] == 0
