"""Browser tests: a live server on a temporary database, driven by Debian's Chromium.

These tests commit (a browser talks to a real server over TCP), so they cannot use the
rolled-back `runtime` fixture: the module gets its own server and database. One browser per
module keeps them fast; each test gets a fresh browser context (cookies) at a phone viewport.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.liveserver import LiveServer, serving

from tests.factories import SERVICE_PASSWORD, line_record, load
from xiaohu.kit.db import transaction

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
NOW = "2026-11-24T10:00:00+08:00"


def chromium_path() -> str | None:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with serving() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    set_clock(live, NOW)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live.url)
    context.set_default_timeout(10_000)
    p = context.new_page()
    yield p
    context.close()


def api(live: LiveServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    url = live.url + path  # our own loopback server
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback test server)
        raw = resp.read()
    return json.loads(raw) if raw else None


def set_clock(live: LiveServer, now: str) -> None:
    api(live, "PUT", "/api/v1/sandbox/clock", {"now": now})


def add_lines(live: LiveServer, *records: dict[str, Any]) -> list[dict[str, Any]]:
    """Commit the records through the real importer (factories), as a test's data."""
    runtime = live.runtime
    with transaction(runtime.sessions) as session:
        load(runtime.context(session, actor="test"), *records)
    return list(records)


def add_line(live: LiveServer, **overrides: Any) -> dict[str, Any]:
    return add_lines(live, line_record(**overrides))[0]


def sms_code(live: LiveServer, msisdn: str) -> str:
    """The newest one-time code in the sandbox outbox. Delivery runs right after the request's
    commit, possibly just after the browser got its page, so allow it a moment."""
    deadline = time.monotonic() + 5
    while True:
        messages = api(live, "GET", f"/api/v1/sandbox/sms?msisdn={msisdn}")["messages"]
        for m in messages:  # newest first
            found = re.search(r"\d{6}", m["text"])
            if m["kind"] == "otp" and found:
                return found.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"no code was sent to {msisdn}")
        time.sleep(0.05)


def screen(page: Any) -> str:
    return str(page.locator("main").get_attribute("data-screen"))


def sign_in(page: Any, live: LiveServer, msisdn: str, password: str = SERVICE_PASSWORD) -> None:
    page.goto("/")
    page.fill("#msisdn", msisdn)
    page.click("#send-code")
    page.fill("#otp", sms_code(live, msisdn))
    page.fill("#service_password", password)
    page.click("#sign-in")
    page.wait_for_url("**/line")
