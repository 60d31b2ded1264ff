"""The retention (停机保号) and reactivation (复机) pages in a real browser, in both languages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tools.liveserver import LiveServer

from tests.factories import line_record
from tests.web.conftest import add_line, add_lines, sign_in

pytestmark = pytest.mark.browser
BILL = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}


def shot(page: Any, name: str) -> None:
    """A full-page screenshot where XIAOHU_SCREENSHOTS names a directory (to look at)."""
    where = os.environ.get("XIAOHU_SCREENSHOTS")
    if where:
        page.screenshot(path=str(Path(where) / name), full_page=True)


def test_keep_the_number_then_reactivate(page: Any, live: LiveServer) -> None:
    record = add_line(live, plan={"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000})
    sign_in(page, live, record["msisdn"])
    page.click("#retention-entry")
    page.wait_for_url("**/line/retention")
    assert page.locator("h1").inner_text() == "停机保号"
    assert page.locator("#fee").inner_text() == "¥5.00"
    assert page.locator("#starts-on").inner_text() == "2026年12月1日"
    assert page.locator("#months").inner_text() == "4个月"  # 50 − 30 yuan = 4 fees of 5
    shot(page, "retention-check-zh.png")
    page.click("#apply-retention")
    page.wait_for_url("**/line/retention?done=retained")
    assert page.locator("#retention-done").is_visible()
    assert page.locator(".badge").inner_text() == "停机保号"
    assert page.locator("#starts-on").inner_text() == "2026年12月1日"
    page.click("#reactivate")
    page.wait_for_url("**/line/retention?done=reactivated")
    assert page.locator("#reactivation-done").is_visible()
    assert page.locator("#apply-retention").is_visible()  # active again: the check once more


def test_blockers_and_the_amount_owed_in_english(page: Any, live: LiveServer) -> None:
    blocked, suspended = add_lines(
        live,
        line_record(opened_on="2026-11-01", unpaid_bills=[BILL],
                    balance={"cash_fen": 0, "gift_fen": 0}),
        line_record(status="arrears_suspended", unpaid_bills=[BILL],
                    balance={"cash_fen": 0, "gift_fen": 0}),
    )  # fmt: skip
    page.goto("/lang?to=en&next=/")
    sign_in(page, live, blocked["msisdn"])
    page.goto("/line/retention")
    assert page.locator("#blockers-title").inner_text() == "2 things to sort out first"
    assert page.locator("#blocker-arrears button").inner_text() == "Pay ¥38.00"
    assert "2026" in page.locator("#blocker-retention_first_month").inner_text()
    assert page.locator("#apply-retention").count() == 0
    shot(page, "retention-blocked-en.png")
    page.click("#blocker-arrears button")  # the bills only, as shown
    page.wait_for_url("**/line/retention?done=paid")
    assert page.locator("#blockers-title").inner_text() == "1 thing to sort out first"
    assert page.locator("#blocker-retention_first_month").is_visible()
    page.context.clear_cookies()
    page.goto("/lang?to=en&next=/")
    sign_in(page, live, suspended["msisdn"])
    page.click("#reactivation-entry")
    assert page.locator("#owed").inner_text() == "¥38.00"
    assert page.locator("#reactivate").inner_text() == "Pay ¥38.00 and reactivate"
    shot(page, "reactivation-en.png")
    page.click("#reactivate")
    page.wait_for_url("**/line/retention?done=reactivated")
    assert page.locator("#reactivation-done").is_visible()
    page.goto("/line")
    assert page.locator(".badge").inner_text() == "Active"
