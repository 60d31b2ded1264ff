"""The check page's remedies behind a confirmation, what an undo restores, the ID check
character, a store-only line, and pages for browsers that hit a missing page (no browser)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import line_record, owner
from tests.web.test_pages import RICH, add, cancel_signed_in, sign_in, token_of
from xiaohu.contracts.models import Contract
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime

ARREARS = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]
PREMIUM = {
    "id": "C-9",
    "kind": "premium_number",
    "starts_on": "2024-01-01",
    "ends_on": "2027-01-31",
    "monthly_minimum_fen": 13800,
}  # 3 × 13800 = 41400 on 2026-11-24


@pytest.fixture()
def web(client: TestClient) -> TestClient:
    assert client.put("/api/v1/sandbox/clock", json={"now": "2026-11-24T10:00:00+08:00"}).is_success
    return client


def fields_of(html: str) -> dict[str, str]:
    """The confirm form's hidden fields."""
    form = html[html.index('action="/line/remedy"') :]
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form))


def line_of(runtime: Runtime, msisdn: str) -> Line:
    with runtime.sessions() as s:
        return s.scalars(select(Line).where(Line.msisdn == msisdn)).one()


def test_a_payment_is_never_made_on_one_tap(web: TestClient, runtime: Runtime) -> None:
    record = add(web, balance=RICH, unpaid_bills=ARREARS)
    token = sign_in(web, record["msisdn"])
    check = web.get("/line/check").text
    assert 'action="/line/remedy/review"' in check
    # The old one-tap post only leads to the confirmation; nothing is paid.
    r = web.post("/line/remedy", data={"csrf_token": token, "action": "pay",
                                       "amount_fen": "3800"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/line/remedy/review?")
    assert line_of(runtime, record["msisdn"]).cash_fen == RICH["cash_fen"]  # nothing paid
    review = web.get(r.headers["location"])
    assert review.status_code == 200
    html = review.text
    assert 'id="review-amount">¥38.00' in html
    assert "已出账未缴的账单" in html and "在线支付" in html
    assert 'href="/line/check" id="remedy-back"' in html
    form = fields_of(html)
    assert form["confirmed"] == "1" and form["amount_fen"] == "3800"
    assert 'id="blocker-arrears"' in web.get("/line/check").text  # still owed
    r = web.post("/line/remedy", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/line/check?done=pay"
    assert 'id="blocker-arrears"' not in web.get("/line/check").text


def test_the_penalty_is_paid_by_its_own_payment_when_the_final_bill_needs_the_cash(
    web: TestClient, runtime: Runtime
) -> None:
    record = add(web, balance={"cash_fen": 0, "gift_fen": 0}, unpaid_bills=ARREARS,
                 contracts=[PREMIUM])  # fmt: skip
    sign_in(web, record["msisdn"])
    pay = web.get("/line/remedy/review", params={"action": "pay"}).text
    assert "销户结算中余额不足的部分" in pay  # the payment covers the final bill too
    assert web.post("/line/remedy", data=fields_of(pay)).status_code == 200
    assert 'id="blocker-arrears"' not in web.get("/line/check").text

    review = web.get("/line/remedy/review",
                     params={"action": "early_termination", "contract_id": "C-9"}).text  # fmt: skip
    assert 'id="review-amount">¥414.00' in review
    assert (
        'data-source="from_penalty_payment"' in review and 'data-source="from_cash"' not in review
    )
    assert "违约金单独在线支付" in review
    assert "撤销销户，此合约也不会恢复" in review
    form = fields_of(review)
    assert form["pay_with"] == "payment"
    assert web.post("/line/remedy", data=form).status_code == 200
    check = web.get("/line/check").text
    assert 'id="blocker-arrears"' not in check and "可以销户" in check
    with runtime.sessions() as s:
        c = s.scalars(select(Contract).where(Contract.contract_ref == "C-9")).one()
        assert c.status == "terminated"


def pdf_text(pdf: bytes) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run([tool, "-", "-"], input=pdf, capture_output=True, check=True)  # noqa: S603
    return out.stdout.decode()


def test_undo_says_what_it_restores_and_what_it_does_not(web: TestClient) -> None:
    record = add(web, balance={"cash_fen": 200000, "gift_fen": 0}, contracts=[PREMIUM])
    token = sign_in(web, record["msisdn"])
    review = web.get("/line/remedy/review",
                     params={"action": "early_termination", "contract_id": "C-9"}).text  # fmt: skip
    assert web.post("/line/remedy", data=fields_of(review)).status_code == 200
    done_url = cancel_signed_in(web, record, token)
    done = web.get(done_url).text
    assert "号码恢复使用" in done
    assert "撤销不会恢复销户前单独办理的事项：已提前解约的合约 C-9（违约金不退）" in done
    assert "号码和业务恢复" not in done
    r = web.post(f"{done_url}/undo", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    reversed_page = web.get(r.headers["location"]).text
    assert "已提前解约的合约 C-9" in reversed_page
    receipt = web.get(f"/api/v1/cancellations/{done_url.rsplit('/', 1)[1]}/receipt.pdf")
    text = pdf_text(receipt.content)
    assert "已返销" in text and "服务已停止" not in text
    # the time of the reversal, in Beijing time with its zone
    assert "2026年11月24日 10:00 (GMT+08:00)" in text.split("已返销", 1)[1]
    assert "C-9" in text


def test_an_id_number_with_a_wrong_check_character_is_named_on_its_field(
    web: TestClient,
) -> None:
    record = add(web, balance=RICH)
    token = sign_in(web, record["msisdn"])
    good = record["owner"]["id_number"]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    page = web.get("/line/confirm").text
    quote = re.search(r'name="quote_id" value="([^"]+)"', page)
    assert quote
    r = web.post(
        "/line/cancel",
        data={"csrf_token": token, "quote_id": quote.group(1), "route": "original",
              "name": record["owner"]["name"], "id_number": wrong,
              "ack": re.findall(r'name="ack" value="([A-Z_]+)"', page)},
    )  # fmt: skip
    assert r.status_code == 422
    assert 'id="id_number-error"' in r.text and "校验码不正确（GB 11643-1999）" in r.text
    assert "机主姓名或证件号码不符" not in r.text


def test_a_store_only_line_is_told_where_to_go_not_to_pay_to_close_online(
    web: TestClient,
) -> None:
    record = add(web, owner=owner(id_type="passport"), balance={"cash_fen": 0, "gift_fen": 0},
                 unpaid_bills=ARREARS, contracts=[PREMIUM])  # fmt: skip
    sign_in(web, record["msisdn"])
    page = web.get("/line/check").text
    assert 'id="not-online"' in page and 'id="store-only"' in page
    assert "请机主到归属地（北京）的运营商自有营业厅办理销户" in page
    assert "机主本人的护照原件" in page
    assert "在线缴清欠费" in page and 'id="pay-anyway"' in page
    assert "处理后即可在线销户" not in page
    assert 'value="early_termination"' not in page  # the store ends it at the same visit


def test_a_browser_gets_a_page_for_a_missing_page_and_an_api_client_json(
    web: TestClient,
) -> None:
    html = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = web.get("/no/such/page", headers=html)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "页面不存在" in r.text and 'href="/" id="go-home"' in r.text
    r = web.get("/no/such/page", headers=html, params={"lang": "en"})
    assert "Page not found" in r.text
    r = web.post("/line/check", headers=html)
    assert r.status_code == 405 and "text/html" in r.headers["content-type"]
    api = web.get("/api/v1/no/such", headers=html)
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    plain = web.get("/no/such/page")
    assert plain.status_code == 404 and plain.json()["code"] == "NOT_FOUND"
    assert token_of(web.get("/").text)
    assert line_record  # the factories stay importable here
