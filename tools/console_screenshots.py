"""The clerk console's screens for the README, at a counter PC's size: a clerk takes a line's
arrears in cash and closes it with a cash refund, then the receipt and the drawer's day.

Called by `tools.screenshots` on its server; the store and the clerk are loaded through the
sandbox's own import routes, as an integrator would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tools.liveserver import LiveServer

DESK = {"width": 1280, "height": 860}
STORE = {"code": "11-BJ-0001", "name": "北京西单营业厅", "province_code": "11", "city": "北京",
         "kind": "own_flagship"}  # fmt: skip
CLERK = {"login": "bj.wang", "name": "王五", "role": "clerk", "province_code": "11",
         "store_code": "11-BJ-0001", "password": "counter-demo-2026"}  # fmt: skip


def load_counter(api: Any, server: LiveServer) -> None:
    api(server, "POST", "/api/v1/sandbox/stores", [STORE])
    api(server, "POST", "/api/v1/sandbox/staff", [CLERK])


def walk_console(browser: Any, server: LiveServer, out: Path, record: dict[str, Any]) -> list[Path]:
    """Close `record` (a line with arrears and enough cash) at the counter; the shots taken."""
    taken: list[Path] = []
    context = browser.new_context(
        viewport=DESK, device_scale_factor=1, locale="zh-CN", base_url=server.url
    )
    page = context.new_page()

    def shot(name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)

    page.goto("/console")
    page.fill("#login", CLERK["login"])
    page.fill("#password", CLERK["password"])
    page.click("#sign-in")
    page.wait_for_url("**/console/find")
    page.fill("#msisdn", record["msisdn"])
    page.click("#find")
    page.fill("#owner_name", record["owner"]["name"])
    page.fill("#owner_id_number", record["owner"]["id_number"])
    page.check("#originals_seen")
    page.click("#run-check")
    page.wait_for_url("**/console/visit")
    shot("14-console-check")
    page.click("#take-payment")
    page.wait_for_url("**/console/visit/pay")
    for box in page.locator("input[name=ack]").all():
        box.check()
    page.click("#confirm-cancel")
    page.wait_for_url(re.compile(r".*/console/cancellations/.*"))
    shot("15-console-receipt")
    context.add_cookies([{"name": "xh_lang", "value": "en", "url": server.url}])
    page.goto("/console/drawer")
    shot("16-console-drawer-en")
    context.close()
    return taken
