"""The clerk console in a real browser: a clerk closes a number with arrears at the counter,
the customer paying the arrears in cash and taking the refund in cash, then the receipt and the
drawer's day, reconciled to the ledger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.liveserver import LiveServer

from tests.factories import STAFF_PASSWORD, add_staff, add_store, line_record
from tests.web.conftest import add_lines, screen, set_clock
from xiaohu.kit.db import transaction

pytestmark = pytest.mark.browser

NOW = "2026-11-24T10:00:00+08:00"
DESK = {"width": 1280, "height": 900}
STORE = "11-BJ-0002"
CLERK = "bj.counter"


@pytest.fixture(scope="module")
def counter(live: LiveServer) -> str:
    """A store and its clerk on the live server's database."""
    runtime = live.runtime
    with transaction(runtime.sessions) as session:
        ctx = runtime.context(session, actor="test")
        add_store(ctx, code=STORE, name="北京西单营业厅")
        add_staff(ctx, login=CLERK, role="clerk", store_code=STORE, name="王五")
        add_staff(ctx, login="bj.hotline", role="hotline_agent", store_code=None)
    return CLERK


@pytest.fixture()
def desk(browser: Any, live: LiveServer, counter: str) -> Iterator[Any]:
    """A counter PC's browser window (cookies of its own)."""
    set_clock(live, NOW)
    context = browser.new_context(viewport=DESK, locale="zh-CN", base_url=live.url)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def sign_in(page: Any, login: str = CLERK) -> None:
    page.goto("/console")
    page.fill("#login", login)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#sign-in")


def amount(text: str) -> int:
    """'¥1,234.50' → 123450 fen; '-¥37.47' → -3747."""
    digits = re.sub(r"[^0-9.]", "", text)
    whole, _, part = digits.partition(".")
    fen = int(whole) * 100 + int((part + "00")[:2])
    return -fen if text.strip().startswith(("-", "−")) else fen


def test_a_clerk_takes_the_arrears_in_cash_and_closes_with_a_cash_refund(
    desk: Any, live: LiveServer, tmp_path: Path
) -> None:
    page = desk
    record = add_lines(
        live,
        line_record(
            balance={"cash_fen": 20000, "gift_fen": 0},
            unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        ),
    )[0]
    sign_in(page)
    page.wait_for_url("**/console/find")
    assert page.locator("#clerk").inner_text().startswith(CLERK)

    page.fill("#msisdn", record["msisdn"])
    page.click("#find")
    assert screen(page) == "documents"
    assert page.locator("#arrears").inner_text() == "¥38.00"
    page.fill("#owner_name", record["owner"]["name"])
    page.fill("#owner_id_number", record["owner"]["id_number"])
    assert not page.locator("#agent_name").is_visible()  # the owner in person: no proxy fields
    page.check("#originals_seen")
    page.click("#run-check")
    page.wait_for_url("**/console/visit")
    assert screen(page) == "check"
    assert page.locator("#blocker-arrears").is_visible()
    assert page.locator("#cancel-form").count() == 0  # not before the arrears are paid
    page.screenshot(path=str(tmp_path / "check-arrears.png"), full_page=True)

    assert page.locator("#amount").input_value() == "38.00"
    assert page.locator("#method-cash").is_checked()
    page.click("#take-payment")
    page.wait_for_url("**/console/visit/pay")
    assert "¥38.00" in page.locator("#paid").inner_text()
    assert page.locator("#blocker-arrears").count() == 0
    refund_now = page.locator("#refund-now").inner_text()
    assert amount(refund_now) > 0
    assert page.locator("#route-cash").is_checked()
    for box in page.locator("input[name=ack]").all():
        box.check()
    page.screenshot(path=str(tmp_path / "check-ready.png"), full_page=True)
    page.click("#confirm-cancel")
    page.wait_for_url(re.compile(r".*/console/cancellations/[^/?]+\?new=1$"))
    assert screen(page) == "receipt"
    assert refund_now in page.locator("#hand-over").inner_text()
    assert page.locator("#receipt-refund-now").inner_text() == refund_now
    assert re.fullmatch(r"\S{6,}", page.locator("#reference").inner_text())
    page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
    pdf = page.request.get(page.locator("#receipt-pdf").get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    page.click("#nav-drawer")
    page.wait_for_url("**/console/drawer")
    assert screen(page) == "drawer"
    assert page.locator("#reconciled").get_attribute("data-reconciled") == "true"
    assert amount(page.locator("#cash-in").inner_text()) == 3800
    assert amount(page.locator("#cash-out").inner_text()) == -amount(refund_now)
    rows = page.locator("#movements tbody tr").all_inner_texts()
    assert len(rows) == 2 and "−" + refund_now in rows[1]
    closing = amount(page.locator("#closing").inner_text())
    assert closing == amount(page.locator("#ledger-balance").inner_text())
    assert closing == amount(page.locator("#opening").inner_text()) + 3800 - amount(refund_now)
    page.screenshot(path=str(tmp_path / "drawer.png"), full_page=True)

    page.click(".lang-switch")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#reconciled").inner_text().endswith("Reconciled with the ledger")
    page.screenshot(path=str(tmp_path / "drawer-en.png"), full_page=True)


def test_a_hotline_agent_cannot_use_the_console(desk: Any) -> None:
    sign_in(desk, "bj.hotline")
    assert desk.locator("#sign-in-failure").get_attribute("data-code") == "not_a_clerk"
    desk.goto("/console/find")
    assert screen(desk) == "console-sign-in"
