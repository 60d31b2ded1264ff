"""The done page and the receipt say where the refund stands: on its way until the payment
gateway pays it out, refunded once paid, failed (and who acts) when the payouts gave up.

The sandbox gateway pays payouts inline after the request's commit and declines any over
¥50,000: a declined payout is retried later (pending), and parked failed after the last try.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from tests.web.test_pages import NOW, add, cancel_on_pages
from xiaohu.runtime import Runtime
from xiaohu.web import receipt

SMALL = {"cash_fen": 50000, "gift_fen": 0}  # ¥500: paid out at once
LARGE = {"cash_fen": 6_000_000, "gift_fen": 0}  # ¥60,000: the sandbox declines the payout


@pytest.fixture()
def web(client: TestClient) -> TestClient:
    r = client.put("/api/v1/sandbox/clock", json={"now": NOW})
    assert r.status_code == 200
    return client


def status_shown(html: str) -> tuple[str, str]:
    found = re.search(r'id="refund-status" data-status="(\w+)"[^>]*>([^<]+)<', html)
    assert found, "the done page shows no refund status"
    return found.group(1), found.group(2)


def receipt_text(web: TestClient, done_url: str) -> str:
    try:
        receipt.find_cjk_font()
    except receipt.ReceiptFontMissing:
        pytest.skip("no CJK font installed (make browser installs fonts-noto-cjk)")
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed to read the text back")
    pdf = web.get(f"/api/v1/cancellations/{done_url.rsplit('/', 1)[1]}/receipt.pdf")
    assert pdf.status_code == 200
    text = subprocess.run(  # noqa: S603 (a fixed local tool)
        [tool, "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    return " ".join(text.split())  # a long value wraps onto a second line


def api_status(web: TestClient, done_url: str) -> str:
    cancellation_id = done_url.rsplit("/", 1)[1]
    receipt_page = web.get(done_url).text
    assert cancellation_id in receipt_page
    with_token = web.cookies.get("xh_session")
    r = web.get(
        f"/api/v1/cancellations/{cancellation_id}",
        headers={"authorization": f"Bearer {with_token}"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["refund"]["status"])


def test_a_paid_out_refund_says_refunded(web: TestClient) -> None:
    done_url = cancel_on_pages(web, add(web, balance=SMALL))
    assert api_status(web, done_url) == "paid"
    html = web.get(done_url).text
    assert status_shown(html) == ("paid", "已退款")
    assert 'id="refund-failed"' not in html
    assert "已退款 / Refunded" in receipt_text(web, done_url)


def test_a_declined_payout_is_on_its_way_not_refunded(web: TestClient) -> None:
    done_url = cancel_on_pages(web, add(web, balance=LARGE))
    assert api_status(web, done_url) == "pending"  # declined once, retried later
    html = web.get(done_url).text
    assert status_shown(html) == ("pending", "退款处理中")
    assert "已退款" not in html and 'id="refund-note"' in html
    text = receipt_text(web, done_url)
    assert "退款处理中 / Refund on its way" in text and "已退款" not in text
    web.get("/lang", params={"to": "en"})
    assert status_shown(web.get(done_url).text) == ("pending", "Refund on its way")


def test_a_payout_given_up_says_the_refund_failed_and_who_acts(
    web: TestClient, runtime: Runtime
) -> None:
    runtime.settings.outbox_max_attempts = 1  # the first decline is the last try
    done_url = cancel_on_pages(web, add(web, balance=LARGE))
    assert api_status(web, done_url) == "failed"
    html = web.get(done_url).text
    assert status_shown(html) == ("failed", "退款失败，客服将联系您")
    assert 'id="refund-failed"' in html
    text = receipt_text(web, done_url)
    assert "退款失败，客服将联系您" in text and "we will contact you" in text
    web.get("/lang", params={"to": "en"})
    assert status_shown(web.get(done_url).text) == (
        "failed",
        "The refund failed; we will contact you",
    )
