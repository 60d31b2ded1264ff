"""Invoices against a real `xiaohu serve` (both engines): a payment's blue invoice (a retry
issues none more), a cancellation's red ones, a reversal's reissue, the PDF read back; at a
store, cash in and cash out, read by the province's clerk."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest

from tests.served.flows import add_line, cancel, check, sign_in
from tests.served.harness import Served
from tests.served.staffing import add_staff, add_store

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
NJ = "32-NJ-0101"


@pytest.fixture(scope="module")
def clerks(sandbox_server: Served) -> dict[str, str]:
    add_store(sandbox_server, NJ, "南京新街口营业厅", "32", "南京")
    add_store(sandbox_server, "44-GZ-0191", "广州天河营业厅", "44", "广州")
    return {
        "32": add_staff(sandbox_server, "inv.js", role="clerk", province="32", store_code=NJ),
        "44": add_staff(
            sandbox_server, "inv.gd", role="clerk", province="44", store_code="44-GZ-0191"
        ),
    }


def invoices(server: Served, msisdn: str, token: str) -> list[dict[str, Any]]:
    r = server.get(f"/api/v1/lines/{msisdn}/invoices", token=token)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["invoices"]
    return found


def books(server: Served) -> None:
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True, tb


def test_online_payment_cancellation_reversal_and_the_pdf(server: Served) -> None:
    rec = add_line(server, province="32", plan=PLAN_30, balance={"cash_fen": 0, "gift_fen": 0})
    m = rec["msisdn"]
    token = sign_in(server, m)
    for _ in range(2):  # a retry under the same key
        r = server.post(f"/api/v1/lines/{m}/payments", {"amount_fen": 12345}, token=token,
                        headers={"Idempotency-Key": f"inv-{m}"})  # fmt: skip
        assert r.status_code == 201, r.text
    [blue] = invoices(server, m, token)
    assert (blue["kind"], blue["amount_fen"], blue["issuer_province"]) == ("blue", 12345, "32")
    assert len(blue["number"]) == 20 and blue["number"][:4] == "2632"
    r = server.get(f"/api/v1/lines/{m}/invoices/{blue['number']}.pdf", token=token)
    assert r.status_code == 200, r.text
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    text = "".join(text.replace("\x00", "").split())
    assert "壹佰贰拾叁元肆角伍分" in text and blue["number"] in text
    r = cancel(server, rec, token, check(server, m, token))
    assert r.status_code == 201, r.text
    done = r.json()
    [red] = [i for i in invoices(server, m, token) if i["kind"] == "red"]
    assert (red["original_number"], red["amount_fen"]) == (
        blue["number"],
        done["refund"]["refund_now_fen"],
    )
    r = server.post(f"/api/v1/cancellations/{done['id']}/reversal", token=token)
    assert r.status_code == 200, r.text
    newest = invoices(server, m, token)[0]
    assert (newest["kind"], newest["original_number"], newest["amount_fen"]) == (
        "blue",
        red["number"],
        red["amount_fen"],
    )
    books(server)


def test_cash_at_the_counter_in_and_out_read_by_the_provinces_clerk(
    server: Served, clerks: dict[str, str]
) -> None:
    rec = add_line(server, province="32", plan=PLAN_30, balance={"cash_fen": 0, "gift_fen": 0})
    m, clerk = rec["msisdn"], clerks["32"]
    r = server.post("/api/v1/store/payments", {"msisdn": m, "amount_fen": 8000, "method": "cash"},
                    token=clerk, headers={"Idempotency-Key": f"cash-{m}"})  # fmt: skip
    assert r.status_code == 201, r.text
    documents = {"owner": dict(rec["owner"])}
    r = server.post("/api/v1/store/cancellation-checks", {"msisdn": m, "documents": documents},
                    token=clerk)  # fmt: skip
    assert r.status_code == 200, r.text
    quote = r.json()
    body = {
        "msisdn": m,
        "quote_id": quote["quote"]["quote_id"],
        "documents": documents,
        "refund_route": {"kind": "cash"},
        "acknowledged_warnings": [w["code"] for w in quote["warnings"]],
    }
    r = server.post("/api/v1/store/cancellations", body, token=clerk,
                    headers={"Idempotency-Key": f"cancel-{m}"})  # fmt: skip
    assert r.status_code == 201, r.text
    refunded = r.json()["refund"]["refund_now_fen"]
    listed = invoices(server, m, clerk)
    assert [(i["kind"], i["amount_fen"]) for i in listed] == [("red", refunded), ("blue", 8000)]
    assert listed[0]["original_number"] == listed[1]["number"]
    r = server.get(f"/api/v1/lines/{m}/invoices", token=clerks["44"])  # any clerk reads
    assert r.status_code == 200 and r.json()["invoices"] == listed, r.text
    r = server.get(f"/api/v1/lines/{m}/invoices/{listed[0]['number']}.pdf", token=clerk)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    books(server)
