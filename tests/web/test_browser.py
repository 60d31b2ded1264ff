"""The self-service pages in a real browser: close a number, fix blockers, undo, languages."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest
from tools.liveserver import LiveServer

from tests.factories import line_record, owner
from tests.web.conftest import add_line, add_lines, screen, set_clock, sign_in, sms_code

pytestmark = pytest.mark.browser


def confirm(page: Any, record: dict[str, Any]) -> None:
    """Fill the confirm screen: the owner's identity, every warning, then close."""
    page.fill("#name", record["owner"]["name"])
    page.fill("#id_number", record["owner"]["id_number"])
    for box in page.locator("input[name=ack]").all():
        box.check()
    page.click("#confirm-cancel")
    page.wait_for_url(re.compile(r".*/done/[^/?]+$"))


def test_a_clean_line_is_closed_in_five_screens(page: Any, live: LiveServer) -> None:
    record = add_line(live, balance={"cash_fen": 50000, "gift_fen": 0})
    msisdn = record["msisdn"]
    seen: list[str] = []

    def note() -> None:
        if not seen or seen[-1] != screen(page):
            seen.append(screen(page))

    page.goto("/")
    note()
    page.fill("#msisdn", msisdn)
    page.click("#send-code")
    note()
    assert "已发送" in page.locator("[role=status]").inner_text()
    page.fill("#otp", sms_code(live, msisdn))
    page.fill("#service_password", record["service_password"])
    page.click("#sign-in")
    page.wait_for_url("**/line")
    note()
    assert page.locator("#cash").inner_text() == "¥500.00"
    assert page.locator("#home").inner_text().startswith("北京")
    page.click("#start-check")
    note()
    assert page.locator("h1").inner_text() == "可以销户"
    refund_now = page.locator("#refund-now").inner_text()
    page.click("#continue")
    note()
    # The unbind reminder is the first warning to acknowledge.
    assert page.locator("input[name=ack]").first.get_attribute("value") == (
        "UNBIND_INTERNET_ACCOUNTS"
    )
    confirm(page, record)
    note()
    assert seen == ["sign-in", "line", "check", "confirm", "done"]
    assert len(seen) <= 6
    assert re.fullmatch(r"\S{6,}", page.locator("#reference").inner_text())
    assert page.locator("#done-refund-now").inner_text() == refund_now
    assert page.locator("#quarantine-until").inner_text() == "2027年2月22日"
    assert page.locator("#undo").is_visible()

    with page.expect_download() as download:
        page.click("#receipt")
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")


def test_arrears_contract_and_broadband_are_resolved_then_closed(
    page: Any, live: LiveServer
) -> None:
    person = owner()
    main, spare = add_lines(
        live,
        line_record(
            owner=person,
            balance={"cash_fen": 1000, "gift_fen": 0},
            unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
            bundle={"id": "BB-WEB-1", "broadband_account": "01099990001", "role": "anchor"},
            contracts=[
                {
                    "id": "C-WEB-1",
                    "kind": "handset",
                    "starts_on": "2025-01-01",
                    "ends_on": "2027-06-30",
                    "handset_list_price_fen": 399900,
                    "handset_promo_price_fen": 299900,
                    "gift_prestore_remaining_fen": 20000,
                },
            ],
        ),
        line_record(owner=person),
    )
    sign_in(page, live, main["msisdn"])
    page.goto("/line/check")
    codes = {el.get_attribute("id") for el in page.locator("article.blocker").all()}
    assert {
        "blocker-arrears",
        "blocker-contract_active-C-WEB-1",
        "blocker-broadband_bound",
    } <= codes
    assert "¥" in page.locator("#blocker-arrears button").inner_text()
    assert "¥" in page.locator("#blocker-contract_active-C-WEB-1 button").inner_text()

    page.click("#blocker-contract_active-C-WEB-1 button")
    assert screen(page) == "remedy"  # a confirmation first: amount, what for, where from
    assert page.locator("#review-amount").inner_text().startswith("¥")
    assert page.locator("#review-from").is_visible()
    page.click("#remedy-back")
    assert screen(page) == "check"
    assert page.locator("#blocker-contract_active-C-WEB-1").count() == 1  # nothing happened
    page.click("#blocker-contract_active-C-WEB-1 button")
    page.click("#remedy-confirm")
    page.wait_for_url("**/line/check?done=early_termination")
    assert page.locator("#blocker-contract_active-C-WEB-1").count() == 0

    page.select_option("#to-bundle", spare["msisdn"])
    page.click("#blocker-broadband_bound button:has-text('转移')")
    page.wait_for_url("**/line/check?done=move_anchor")
    assert page.locator("#blocker-broadband_bound").count() == 0

    page.click("#blocker-arrears button")
    assert "在线支付" in page.locator("#review-from").inner_text()
    page.click("#remedy-confirm")
    page.wait_for_url("**/line/check?done=pay")
    assert page.locator("article.blocker").count() == 0
    assert page.locator("h1").inner_text() == "可以销户"
    page.click("#continue")
    confirm(page, main)
    assert screen(page) == "done"


RICH = {"cash_fen": 50000, "gift_fen": 0}


def test_the_done_page_undoes_the_cancellation(page: Any, live: LiveServer) -> None:
    record = add_line(live, balance=RICH)
    sign_in(page, live, record["msisdn"])
    page.goto("/line/confirm")
    confirm(page, record)
    page.click("#undo")
    page.wait_for_url("**?reversed=1")
    assert page.locator("h1").inner_text() == "已撤销销户"
    page.goto("/line")
    assert page.locator(".badge").inner_text() == "正常"


def test_english_switch_keeps_the_page_and_sets_lang(page: Any, live: LiveServer) -> None:
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.click("a.lang-switch")
    page.wait_for_url(re.compile(r".*/$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Sign in"
    record = add_line(live)
    sign_in(page, live, record["msisdn"])
    assert page.locator("h1").inner_text() == "My line"
    page.click("a.lang-switch")
    page.wait_for_url("**/line")
    assert page.locator("h1").inner_text() == "我的号码"


def test_wrong_code_then_locked_pages(page: Any, live: LiveServer) -> None:
    record = add_line(live)
    page.goto("/")
    page.fill("#msisdn", record["msisdn"])
    page.click("#send-code")
    page.fill("#otp", "000000" if sms_code(live, record["msisdn"]) != "000000" else "111111")
    page.fill("#service_password", record["service_password"])
    page.click("#sign-in")
    assert screen(page) == "wrong-code"
    assert page.locator("#wrong-code").is_visible()
    assert "4" in page.locator("#wrong-code").inner_text()
    for _ in range(4):
        page.fill("#otp", "999999")
        page.fill("#service_password", "000000")
        page.click("#sign-in")
    assert screen(page) == "locked"
    # Locked for 30 minutes from the test clock, shown in Beijing time.
    assert page.locator("#locked-until").inner_text() == "2026年11月24日 10:30 (GMT+08:00)"


def test_expired_quote_offers_a_new_check(page: Any, live: LiveServer) -> None:
    record = add_line(live, balance=RICH)
    sign_in(page, live, record["msisdn"])
    page.goto("/line/confirm")
    set_clock(live, "2026-11-24T10:20:00+08:00")
    page.fill("#name", record["owner"]["name"])
    page.fill("#id_number", record["owner"]["id_number"])
    for box in page.locator("input[name=ack]").all():
        box.check()
    page.click("#confirm-cancel")
    assert screen(page) == "expired"
    page.click("#recheck")
    assert screen(page) == "check"


def test_a_passport_line_cannot_be_closed_online(page: Any, live: LiveServer) -> None:
    record = add_line(live, owner=owner(id_type="passport"), balance=RICH)
    sign_in(page, live, record["msisdn"])
    page.goto("/line/check")
    assert page.locator("#not-online").is_visible()
    assert page.locator("#blocker-channel_not_allowed .where").is_visible()
    assert page.locator("#continue").count() == 0


def test_receipt_needs_the_owner(page: Any, live: LiveServer) -> None:
    record = add_line(live, balance=RICH)
    sign_in(page, live, record["msisdn"])
    page.goto("/line/confirm")
    confirm(page, record)
    url = page.locator("#receipt").get_attribute("href")
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(live.url + url, timeout=10)  # noqa: S310 (loopback)
    assert anonymous.value.code == 401


def test_sign_in_works_from_the_keyboard(page: Any, live: LiveServer) -> None:
    record = add_line(live)
    page.goto("/")
    # The number field has focus; Enter sends the code (no mouse needed).
    assert page.evaluate("document.activeElement.id") == "msisdn"
    page.keyboard.type(record["msisdn"])
    page.keyboard.press("Enter")
    page.wait_for_selector("[role=status]")
    # After the code was sent, focus waits in the code field; Tab goes to the password.
    assert page.evaluate("document.activeElement.id") == "otp"
    page.keyboard.type(sms_code(live, record["msisdn"]))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "service_password"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.type(record["service_password"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/line")
    assert screen(page) == "line"


def test_cancelling_the_broadband_needs_a_confirmation(page: Any, live: LiveServer) -> None:
    record = add_line(
        live,
        balance=RICH,
        bundle={"id": "BB-WEB-9", "broadband_account": "01099990009", "role": "anchor"},
    )
    sign_in(page, live, record["msisdn"])
    page.goto("/line/check")
    page.click("#blocker-broadband_bound button:has-text('取消')")
    assert screen(page) == "remedy"
    assert "BB-WEB-9" in page.locator("#review-for").inner_text()
    assert "不会恢复" in page.locator("#review-final").inner_text()
    page.click("#remedy-confirm")
    page.wait_for_url("**/line/check?done=cancel_broadband")
    assert page.locator("#blocker-broadband_bound").count() == 0


def test_a_missing_page_is_a_page_in_the_browser(page: Any, live: LiveServer) -> None:
    response = page.goto("/no/such/page")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "页面不存在"
    page.click("#go-home")
    assert screen(page) == "sign-in"


def test_a_cancelled_number_signs_in_with_its_reference_and_undoes(
    page: Any, live: LiveServer
) -> None:
    record = add_line(live, balance=RICH)
    sign_in(page, live, record["msisdn"])
    page.goto("/line/confirm")
    confirm(page, record)
    done_url = page.url
    reference = page.locator("#reference").inner_text()
    assert page.locator("#refund-status").inner_text() == "已退款"  # paid out inline
    page.context.clear_cookies()
    set_clock(live, "2026-11-25T08:00:00+08:00")  # within the 24-hour undo window
    page.goto("/")
    page.fill("#msisdn", record["msisdn"])
    page.click("#send-code")  # no SMS to a cancelled number: the page offers the reference
    assert screen(page) == "sign-in-reference"
    assert "已销户" in page.locator("#reference-notice").inner_text()
    assert page.locator("#msisdn").input_value() == record["msisdn"]
    page.fill("#reference", reference)
    page.fill("#service_password", record["service_password"])
    page.fill("#id_number", record["owner"]["id_number"])
    page.press("#id_number", "Enter")
    page.wait_for_url(done_url)
    assert screen(page) == "done"
    page.click("#undo")
    page.wait_for_url("**?reversed=1")
    assert page.locator("h1").inner_text() == "已撤销销户"


def test_the_cancelled_number_link_leads_to_the_reference_form_in_english(
    page: Any, live: LiveServer
) -> None:
    page.goto("/")
    page.click("a.lang-switch")
    page.wait_for_url(re.compile(r".*/$"))
    page.click("#cancelled-link")
    page.wait_for_url("**/sign-in/reference")
    assert page.locator("h1").inner_text() == "Sign in to a cancelled number"
    page.fill("#msisdn", "123")
    page.click("#sign-in-reference")
    assert page.locator("#msisdn-error").is_visible()
    assert page.locator("#reference-error").inner_text().endswith("Enter the reference.")
