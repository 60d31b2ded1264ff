"""A cancellation belongs to the period its quote priced: a quote made before midnight on a
month's last day and used just after it is trued up when that month closes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api, assert_books_consistent
from tests.factories import line_record
from xiaohu.billing.models import Bill
from xiaohu.cancellation.models import Cancellation
from xiaohu.runtime import Runtime

CST = T0.tzinfo
QUOTED_AT = dt.datetime(2026, 11, 30, 23, 59, tzinfo=CST)
CANCELLED_AT = dt.datetime(2026, 12, 1, 0, 0, 30, tzinfo=CST)


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    a = Api(client)
    a.set_clock(QUOTED_AT)
    yield a
    a.books()
    with runtime.sessions() as s:
        assert_books_consistent(s)


def test_a_quote_used_after_midnight_files_the_cancellation_under_the_quoted_period(
    api: Api, client: TestClient, runtime: Runtime
) -> None:
    rec = line_record(province="33", balance={"cash_fen": 30000, "gift_fen": 0})
    api.import_lines(rec)
    m = rec["msisdn"]
    api.sign_in(m)
    check = api.check(m)
    assert check["eligible"] is True, check["blockers"]
    api.set_clock(CANCELLED_AT)
    r = api.cancel(rec, check)
    assert r.status_code == 201, r.text
    out = r.json()
    # The quoted November amounts are what was charged ...
    assert out["refund"]["reserve_fen"] == check["quote"]["reserve_fen"]
    assert out["charges_fen"] == check["quote"]["charges_fen"]
    with runtime.sessions() as s:
        c = s.get(Cancellation, out["id"])
        assert c is not None and c.period == "2026-11"
        finals = select(Bill.period).where(Bill.line_id == c.line_id, Bill.kind == "final")
        final = s.scalars(finals).all()
        assert final == ["2026-11"]
    # ... and November's close trues it up once the undo window has passed.
    r = client.post("/api/v1/sandbox/usage", json={"msisdn": m, "amount_fen": 100})
    assert r.status_code == 201, r.text
    api.set_clock(CANCELLED_AT + dt.timedelta(days=2))
    report = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"}).json()
    assert report["settled"] == 1, report
    assert report["late_usage_fen"] == 100
    assert report["trued_up_fen"] == out["refund"]["reserve_fen"] - 100
