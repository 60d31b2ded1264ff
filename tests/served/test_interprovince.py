"""Cross-region work against a real `xiaohu serve` (both engines): a Jiangsu line cancelled for
cash at a Guangzhou store and arrears taken in there, each province's books read back over HTTP;
once with the outbox inline (sandbox), once with the delivery thread applying the messages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.served.flows import NOW, add_line
from tests.served.harness import Served, serve
from tests.served.staffing import add_staff, add_store

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
GZ = "44-GZ-0301"


def _open(server: Served) -> str:
    r = server.put("/api/v1/sandbox/clock", {"now": NOW})
    assert r.status_code == 200, r.text
    add_store(server, GZ, "广州天河营业厅", "44", "广州")
    return add_staff(server, "s.gz.chen", role="clerk", province="44", store_code=GZ)


@pytest.fixture(scope="module")
def inline() -> Iterator[tuple[Served, str]]:
    with serve("sandbox") as server:
        yield server, _open(server)


@pytest.fixture(scope="module")
def background() -> Iterator[tuple[Served, str]]:
    with serve("sandbox", {"XIAOHU_OUTBOX_DELIVERY": "background"}) as server:
        yield server, _open(server)


def _docs(rec: dict[str, Any]) -> dict[str, Any]:
    return {"owner": dict(rec["owner"])}


def _books(server: Served) -> dict[str, dict[str, int]]:
    """Each province's trial balance (checked zero), as account → balance."""
    out = {}
    for p in ("32", "44"):
        tb = server.get("/api/v1/admin/ledger/trial-balance", params={"province_code": p}).json()
        assert tb["province_code"] == p and tb["balanced"] is True, tb
        out[p] = {a["code"]: a["balance_fen"] for a in tb["accounts"]}
    national = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert national["balanced"] is True
    audit = server.get("/api/v1/admin/audit/verify").json()
    assert audit["intact"] is True, audit
    return out


def _story(server: Served, clerk: str) -> None:
    """Arrears and a top-up taken in cash for a Jiangsu line at Guangzhou (Guangdong owes
    Jiangsu), then the line cancelled there with the balance handed over in cash (Jiangsu owes
    Guangdong); read back until the drawer's side has been applied."""
    bill = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}
    rec = add_line(server, province="32", plan=PLAN_30, balance={"cash_fen": 0, "gift_fen": 0},
                   unpaid_bills=[bill])  # fmt: skip
    m = rec["msisdn"]
    r = server.post("/api/v1/store/payments", {"msisdn": m, "amount_fen": 13800, "method": "cash"},
                    token=clerk, headers={"Idempotency-Key": f"pay-{m}"})  # fmt: skip
    assert r.status_code == 201, r.text
    body = {"msisdn": m, "documents": _docs(rec)}
    check = server.post("/api/v1/store/cancellation-checks", body, token=clerk).json()
    assert check["cross_region"] is True and check["eligible"] is True, check
    assert (check["home_province"], check["handling_province"]) == ("32", "44")
    refund = check["quote"]["refund_now_fen"]
    body = {"msisdn": m, "quote_id": check["quote"]["quote_id"], "documents": _docs(rec),
            "refund_route": {"kind": "cash"},
            "acknowledged_warnings": [w["code"] for w in check["warnings"]]}  # fmt: skip
    r = server.post("/api/v1/store/cancellations", body, token=clerk,
                    headers={"Idempotency-Key": f"cancel-{m}"})  # fmt: skip
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["cross_region"] is True and out["handling_province"] == "44"
    assert out["home_province"] == "32"

    deadline = time.monotonic() + 15
    while True:
        report = server.get("/api/v1/store/drawer", params={"date": "2026-11-24"},
                            token=clerk).json()  # fmt: skip
        if report["cash_out_fen"] == refund or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    books = _books(server)
    assert books["32"]["due_from:32:44"] == 13800 and books["32"]["due_to:32:44"] == -refund
    assert books["44"]["due_to:44:32"] == -13800 and books["44"]["due_from:44:32"] == refund
    assert books["44"][f"store_drawer:{GZ}"] == 13800 - refund
    assert report["reconciled"] is True and report["cash_in_fen"] == 13800, report
    assert report["closing_fen"] == 13800 - refund


def test_cross_region_cash_with_the_outbox_inline(inline: tuple[Served, str]) -> None:
    _story(*inline)
    server, _ = inline
    r = server.get("/api/v1/admin/ledger/trial-balance", params={"province_code": "00"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text


def test_cross_region_cash_with_the_delivery_thread(background: tuple[Served, str]) -> None:
    _story(*background)
