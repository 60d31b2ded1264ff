"""The invoice endpoints over HTTP: who may read, the list after each event, the PDF."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import Api, checked_api
from tests.factories import add_staff, add_store, line_record, owner, staff_token
from xiaohu.runtime import Context, Runtime
from xiaohu.web import receipt

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Any:
    yield from checked_api(client, runtime)


def jiangsu(api: Api, **kw: Any) -> dict[str, Any]:
    rec = line_record(province="32", plan=PLAN_30, balance={"cash_fen": 0, "gift_fen": 0}, **kw)
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    return rec


def clerk(ctx: Context, province: str, login: str) -> dict[str, str]:
    store = add_store(ctx, code=f"{province}-X-{login}", province_code=province, city="某市")
    member = add_staff(ctx, login=login, province_code=province, store_code=store.code)
    return {"Authorization": f"Bearer {staff_token(ctx, member)}"}


def pay(api: Api, msisdn: str, amount_fen: int, key: str | None = None) -> dict[str, Any]:
    headers = api.auth(msisdn) | ({"Idempotency-Key": key} if key else {})
    r = api.client.post(
        f"/api/v1/lines/{msisdn}/payments", json={"amount_fen": amount_fen}, headers=headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def listed(api: Api, msisdn: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    r = api.client.get(f"/api/v1/lines/{msisdn}/invoices", headers=headers or api.auth(msisdn))
    assert r.status_code == 200, r.text
    invoices: list[dict[str, Any]] = r.json()["invoices"]
    return invoices


def pdf_text(api: Api, msisdn: str, number: str) -> str:
    r = api.client.get(f"/api/v1/lines/{msisdn}/invoices/{number}.pdf", headers=api.auth(msisdn))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    return "".join(text.replace("\x00", "").split())


def test_payment_cancellation_and_reversal_as_the_list_shows_them(api: Api) -> None:
    rec = jiangsu(api)
    m = rec["msisdn"]
    # A retried payment (same Idempotency-Key) is one payment and one invoice.
    first = pay(api, m, 10000, key="pay-1")
    assert pay(api, m, 10000, key="pay-1") == first
    pay(api, m, 5000)
    blues = listed(api, m)
    assert [(i["kind"], i["amount_fen"], i["original_number"]) for i in blues] == [
        ("blue", 5000, None),
        ("blue", 10000, None),
    ]
    assert {i["issuer_province"] for i in blues} == {"32"}
    assert [i["number"][:5] for i in blues] == ["26321", "26321"]
    check = api.check(m)
    r = api.cancel(rec, check, key="cancel-1")
    assert r.status_code == 201, r.text
    done = r.json()
    refunded = done["refund"]["refund_now_fen"]
    after = listed(api, m)
    reds = [i for i in after if i["kind"] == "red"]
    assert sum(i["amount_fen"] for i in reds) == refunded
    assert {i["original_number"] for i in reds} == {b["number"] for b in blues}
    r = api.client.post(f"/api/v1/cancellations/{done['id']}/reversal", headers=api.auth(m))
    assert r.status_code == 200, r.text
    reissued = [i for i in listed(api, m) if i["kind"] == "blue" and i["original_number"]]
    assert sorted((i["original_number"], i["amount_fen"]) for i in reissued) == sorted(
        (i["number"], i["amount_fen"]) for i in reds
    )


def test_the_line_and_any_clerk_may_read_others_may_not(api: Api, ctx: Context) -> None:
    rec = jiangsu(api)
    m = rec["msisdn"]
    pay(api, m, 1000)
    js_clerk, gd_clerk = clerk(ctx, "32", "js.li"), clerk(ctx, "44", "gd.chen")
    assert len(listed(api, m, js_clerk)) == 1
    url = f"/api/v1/lines/{m}/invoices"
    assert listed(api, m, gd_clerk) == listed(api, m, js_clerk)  # any clerk, any province
    other = jiangsu(api, owner=owner())
    r = api.client.get(url, headers=api.auth(other["msisdn"]))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")
    assert api.client.get(url).status_code == 401


def test_unknown_invoice_is_404_and_another_lines_is_403(api: Api) -> None:
    rec, other = jiangsu(api), jiangsu(api)
    pay(api, other["msisdn"], 1000)
    [theirs] = listed(api, other["msisdn"])
    m = rec["msisdn"]
    base = f"/api/v1/lines/{m}/invoices"
    r = api.client.get(f"{base}/26329999999999999999.pdf", headers=api.auth(m))
    assert (r.status_code, r.json()["code"]) == (404, "INVOICE_NOT_FOUND")
    r = api.client.get(f"{base}/not-a-number.pdf", headers=api.auth(m))
    assert (r.status_code, r.json()["code"]) == (404, "INVOICE_NOT_FOUND")
    r = api.client.get(f"{base}/{theirs['number']}.pdf", headers=api.auth(m))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")


def test_the_pdf_shows_seller_buyer_tax_and_the_amount_in_capital_numerals(api: Api) -> None:
    try:
        receipt.find_cjk_font()
    except receipt.ReceiptFontMissing:
        pytest.skip("no CJK font installed (make browser installs fonts-noto-cjk)")
    rec = jiangsu(api)
    m = rec["msisdn"]
    pay(api, m, 12345)
    [blue] = listed(api, m)
    text = pdf_text(api, m, blue["number"])
    for expected in (
        "电子发票（普通发票）",
        blue["number"],
        "江苏省分公司",  # the seller: the home province's company
        f"{m[:3]}****{m[-4:]}",
        "壹佰贰拾叁元肆角伍分",
        "¥123.45",
        "9%",
        "¥113.26",  # price: 123.45 − 10.19
        "¥10.19",  # tax: 12345 × 9 / 109 = 1019.27 → 1019 fen
    ):
        assert expected in text, expected
    assert rec["owner"]["name"] not in text  # the buyer is masked
    r = api.cancel(rec, api.check(m))
    assert r.status_code == 201, r.text
    [red] = [i for i in listed(api, m) if i["kind"] == "red"]
    text = pdf_text(api, m, red["number"])
    assert "红字" in text and blue["number"] in text
    assert "负" in text and f"-¥{red['amount_fen'] // 100}" in text
