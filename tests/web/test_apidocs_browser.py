"""`/docs` in a real browser that may reach nothing but the service: the operations render."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tools.liveserver import LiveServer

pytestmark = pytest.mark.browser


def test_docs_render_the_operations_offline(browser: Any, live: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live.url)
    context.set_default_timeout(15_000)
    ours = urlsplit(live.url).netloc
    elsewhere: list[str] = []

    def only_ours(route: Any) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:  # a CDN, a font host: nothing of the kind is reachable on a closed network
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    page = context.new_page()
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/cancellations" in paths
    assert any(p.startswith("/api/v1/lines/") for p in paths)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("xiaohu")
    # the bearer scheme: Swagger UI offers the Authorize button only when the document has one
    assert page.locator("button.authorize").count() == 1
    assert elsewhere == []
    shot = os.environ.get("XIAOHU_DOCS_SCREENSHOT")  # to look at the page by eye
    if shot:
        page.screenshot(path=str(Path(shot)), full_page=False)
    context.close()
