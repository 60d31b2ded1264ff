"""`make screenshots` (`python -m tools.screenshots docs/screenshots`): a PNG of every screen
at a phone size.

Starts its own server on a temporary database with a few demo lines, pins the sandbox clock,
and walks the pages in Debian's headless Chromium (Playwright drives it; it cannot download a
browser of its own here). The README's "Screens" section shows the result.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tools.liveserver import LiveServer, serving
from xiaohu.identity.rules import resident_id_check_char
from xiaohu.kit.db import transaction

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
NOW = "2026-11-24T10:00:00+08:00"
PASSWORD = "135790"  # noqa: S105 (demo data)


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def demo_records() -> list[dict[str, Any]]:
    """Five Beijing lines: a clean one, one with every kind of blocker (and a spare line of
    the same owner), one registered with a passport, and one for the English screens."""
    from xiaohu.demo.data import prefix_table

    prefix = prefix_table()["11"][0]
    number = [f"{prefix}{n:04d}" for n in (1001, 1002, 1003, 1004, 1005)]
    plan = {"code": "5G-129", "name": "5G畅享129元", "monthly_fee_fen": 12900}
    base: dict[str, Any] = {
        "status": "active",
        "opened_on": "2019-05-01",
        "real_name_verified": True,
        "service_password": PASSWORD,
        "plan": plan,
        "usage_history_fen": [2100, 1800, 2500],
        "usage_unbilled_fen": 1200,
        "payment_route": {"kind": "alipay", "account": "zh***@example.com"},
    }
    wang = {
        "name": "王小红",
        "id_type": "resident_id",
        "id_number": _resident_id("11010119880512002"),
    }
    zhang = {
        "name": "张伟",
        "id_type": "resident_id",
        "id_number": _resident_id("11010819920817003"),
    }
    li = {
        "name": "李建国",
        "id_type": "resident_id",
        "id_number": _resident_id("11010519750203001"),
    }
    return [
        {**base, "msisdn": number[0], "owner": wang,
         "balance": {"cash_fen": 36800, "gift_fen": 2000}},
        {
            **base,
            "msisdn": number[1],
            "owner": li,
            "balance": {"cash_fen": 1500, "gift_fen": 0},
            "unpaid_bills": [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
            "bundle": {"id": "BB-DEMO", "broadband_account": "01088886666", "role": "anchor"},
            "family": {"group_id": "F-DEMO", "role": "primary"},
            "contracts": [
                {"id": "C-1", "kind": "handset", "starts_on": "2025-01-01", "ends_on": "2027-06-30",
                 "handset_list_price_fen": 599900, "handset_promo_price_fen": 399900,
                 "gift_prestore_remaining_fen": 30000},
            ],
            "pending_orders": [{"id": "O-88", "kind": "plan_change"}],
        },
        {**base, "msisdn": number[2], "owner": li,
         "family": {"group_id": "F-DEMO", "role": "member"}},
        {
            **base,
            "msisdn": number[3],
            "owner": {"name": "John Smith", "id_type": "passport", "id_number": "E12345678"},
            "contracts": [
                {"id": "C-9", "kind": "premium_number", "starts_on": "2020-01-01", "ends_on": None,
                 "monthly_minimum_fen": 13800},
            ],
        },
        {**base, "msisdn": number[4], "owner": zhang,
         "balance": {"cash_fen": 20000, "gift_fen": 500}},
    ]  # fmt: skip


def _api(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    url = server.url + path  # our own loopback server
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (our loopback server)
        raw = resp.read()
    return json.loads(raw) if raw else None


def _code(server: LiveServer, msisdn: str) -> str:
    import time

    for _ in range(100):
        for m in _api(server, "GET", f"/api/v1/sandbox/sms?msisdn={msisdn}")["messages"]:
            found = re.search(r"\d{6}", m["text"])
            if m["kind"] == "otp" and found:
                return found.group(0)
        time.sleep(0.05)
    raise RuntimeError(f"no code was sent to {msisdn}")


class Shooter:
    def __init__(self, page: Any, out: Path) -> None:
        self.page = page
        self.out = out
        self.taken: list[Path] = []

    def shot(self, name: str) -> None:
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


def _sign_in(page: Any, server: LiveServer, msisdn: str) -> None:
    page.goto("/")
    page.fill("#msisdn", msisdn)
    page.click("#send-code")
    page.fill("#otp", _code(server, msisdn))
    page.fill("#service_password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/line")


def _confirm_form(page: Any, owner: dict[str, str]) -> None:
    page.fill("#name", owner["name"])
    page.fill("#id_number", owner["id_number"])
    for box in page.locator("input[name=ack]").all():
        box.check()


def walk(browser: Any, server: LiveServer, out: Path) -> list[Path]:
    clean, blocked, _spare, passport, english = demo_records()

    def fresh(lang: str = "zh") -> tuple[Any, Shooter]:
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, locale="zh-CN", base_url=server.url
        )
        if lang == "en":
            context.add_cookies([{"name": "xh_lang", "value": "en", "url": server.url}])
        return context, Shooter(context.new_page(), out)

    context, s = fresh()
    page = s.page
    page.goto("/")
    page.fill("#msisdn", clean["msisdn"])
    page.click("#send-code")
    s.shot("01-number")
    page.fill("#otp", _code(server, clean["msisdn"]))
    page.fill("#service_password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/line")
    s.shot("02-line")
    page.click("#start-check")
    s.shot("03-check-ready")
    page.click("#continue")
    _confirm_form(page, clean["owner"])
    s.shot("04-confirm")
    page.click("#confirm-cancel")
    page.wait_for_url(re.compile(r".*/done/[^/?]+$"))
    s.shot("05-done")
    reference = page.locator("#reference").inner_text()
    context.clear_cookies()  # a cancelled number receives no code: it signs in by reference
    page.goto("/")
    page.fill("#msisdn", clean["msisdn"])
    page.click("#send-code")
    page.fill("#reference", reference)
    s.shot("13-cancelled-sign-in")
    context.close()

    context, t = fresh()
    _sign_in(t.page, server, blocked["msisdn"])
    t.page.goto("/line/check")
    t.shot("06-check-blockers")
    t.page.click("article.blocker[id^=blocker-contract_active] button")
    t.shot("12-confirm-remedy")
    context.close()

    context, u = fresh()
    _sign_in(u.page, server, passport["msisdn"])
    u.page.goto("/line/check")
    u.shot("07-not-online")
    context.close()

    context, v = fresh()
    page = v.page
    page.goto("/")
    page.fill("#msisdn", blocked["msisdn"])
    page.click("#send-code")
    _code(server, blocked["msisdn"])
    for attempt in range(5):
        page.fill("#otp", "000000")
        page.fill("#service_password", "000000")
        page.click("#sign-in")
        if attempt == 0:
            v.shot("08-wrong-code")
    v.shot("09-locked")
    context.close()

    _api(server, "PUT", "/api/v1/sandbox/clock", {"now": "2026-11-24T11:00:00+08:00"})
    context, w = fresh("en")
    _sign_in(w.page, server, english["msisdn"])
    w.page.goto("/line/check")
    w.shot("11-check-en")
    w.page.goto("/line/confirm")
    _confirm_form(w.page, english["owner"])
    _api(server, "PUT", "/api/v1/sandbox/clock", {"now": "2026-11-24T11:20:00+08:00"})
    w.page.click("#confirm-cancel")
    w.shot("10-quote-expired")
    context.close()

    from tools.console_screenshots import load_counter, walk_console

    _api(server, "PUT", "/api/v1/sandbox/clock", {"now": NOW})
    load_counter(_api, server)
    counter = walk_console(browser, server, out, counter_record())
    return [*s.taken, *t.taken, *u.taken, *v.taken, *w.taken, *counter]


def counter_record() -> dict[str, Any]:
    """A line the owner closes at a store: last month unpaid, cash on the balance."""
    from xiaohu.demo.data import prefix_table

    return {
        "msisdn": f"{prefix_table()['11'][0]}1006",
        "status": "active",
        "opened_on": "2018-03-01",
        "real_name_verified": True,
        "service_password": PASSWORD,
        "plan": {"code": "4G-58", "name": "4G畅聊58元", "monthly_fee_fen": 5800},
        "usage_history_fen": [900, 1200, 800],
        "payment_route": {"kind": "wechat", "account": "wx***8866"},
        "owner": {"name": "赵敏", "id_type": "resident_id",
                  "id_number": _resident_id("11010219850706004")},
        "balance": {"cash_fen": 16600, "gift_fen": 0},
        "unpaid_bills": [{"period": "2026-10", "amount_fen": 5800, "due_on": "2026-11-15"}],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("Debian's chromium is needed: run `make browser`", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from xiaohu.intake.importer import import_records

    with serving() as server:
        with transaction(server.runtime.sessions) as session:
            records = [*demo_records(), counter_record()]
            import_records(server.runtime.context(session, actor="demo"), records)
        _api(server, "PUT", "/api/v1/sandbox/clock", {"now": NOW})
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS, headless=True
            )
            try:
                taken = walk(browser, server, out)
            finally:
                browser.close()
    for path in taken:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
