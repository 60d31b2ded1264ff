"""The back-office pages in a real browser: sign in, the queue, one order, approve; another
province's back office sees nothing; the pages in English too."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tools.liveserver import LiveServer

from tests.factories import STAFF_PASSWORD, add_staff, add_store, line_record, load, owner
from tests.factories import staff_token as mint
from tests.web.conftest import set_clock
from xiaohu.kit.db import transaction

pytestmark = pytest.mark.browser
OPENED = "2026-09-30T10:00:00+08:00"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def call(live: LiveServer, path: str, body: Any, token: str) -> Any:
    req = urllib.request.Request(live.url + path, data=json.dumps(body).encode(), method="POST")  # noqa: S310
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback test server)
        return resp.status, json.loads(resp.read())


def opened_order(live: LiveServer) -> dict[str, Any]:
    """A fraud-stopped Beijing line, its request at a Beijing counter (202), and the staff."""
    set_clock(live, OPENED)
    person = owner()
    rec = line_record(province="11", status="fraud_stop", owner=person, plan=PLAN_30,
                      balance={"cash_fen": 20000, "gift_fen": 0})  # fmt: skip
    other = line_record(province="11", owner=person, plan=PLAN_30)
    runtime = live.runtime
    with transaction(runtime.sessions) as session:
        ctx = runtime.context(session, actor="test")
        load(ctx, rec, other)
        add_store(ctx, code="11-BJ-0501")
        clerk = add_staff(ctx, login="web.clerk", store_code="11-BJ-0501")
        add_staff(ctx, login="web.review", role="backoffice", store_code=None)
        add_staff(ctx, login="web.gd", role="backoffice", province_code="44", store_code=None)
        token = mint(ctx, clerk)
    docs = {"owner": dict(rec["owner"])}
    _, check = call(live, "/api/v1/store/cancellation-checks",
                    {"msisdn": rec["msisdn"], "documents": docs}, token)  # fmt: skip
    status, body = call(
        live,
        "/api/v1/store/cancellations",
        {"msisdn": rec["msisdn"], "quote_id": check["quote"]["quote_id"], "documents": docs,
         "refund_route": {"kind": "original"},
         "acknowledged_warnings": [w["code"] for w in check["warnings"]]},
        token,
    )  # fmt: skip
    assert status == 202, body
    return {"record": rec, **body}


def sign_in(page: Any, login: str) -> None:
    page.goto("/backoffice")
    page.fill("#login", login)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/backoffice/orders")


def test_a_back_office_approves_a_fraud_stop_in_the_browser(page: Any, live: LiveServer) -> None:
    order = opened_order(live)
    order_id = order["work_order"]["id"]
    sign_in(page, "web.gd")  # Guangdong's back office: not its line
    assert page.locator("#empty").is_visible()
    page.goto(f"/backoffice/orders/{order_id}")
    assert page.locator("h1").inner_text() == "其他省份的工单"
    page.context.clear_cookies()

    set_clock(live, "2026-10-08T15:00:00+08:00")
    sign_in(page, "web.review")
    card = page.locator(f"#order-{order_id}")
    assert card.is_visible() and card.get_attribute("data-overdue") == "false"
    assert "涉诈停机" in card.inner_text()
    card.click()
    page.wait_for_url(f"**/backoffice/orders/{order_id}")
    assert page.locator("#reasons").inner_text() == "涉诈停机"
    assert (
        "10月10日" in page.locator("#due").inner_text()
        or "2026" in page.locator("#due").inner_text()
    )
    shot = os.environ.get("XIAOHU_BACKOFFICE_SCREENSHOT")  # docs/screenshots, by `make`-less hand
    if shot:
        page.screenshot(path=str(Path(shot)), full_page=True)
    page.fill("#reason", "核实为机主本人，同意销户")
    page.click("#approve")
    page.wait_for_url(f"**/backoffice/orders/{order_id}?done=approve")
    assert page.locator("#decided").is_visible()
    assert page.locator("#line-status").inner_text() == "cancelled"
    assert page.locator("#decide").count() == 0

    page.goto("/lang?to=en&next=/backoffice/orders%3Fstatus%3Dclosed")
    assert page.locator("h1").inner_text() == "Work orders"
    assert page.locator(f"#order-{order_id}").is_visible()
