"""The demo story at the counter, on a served process: after `xiaohu demo-load`, a person signs
in to the clerk console as a demo clerk (the published sandbox password) and closes a demo
number with a cash refund; the drawer's day then shows the refund, reconciled."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.served.flows import NOW
from tests.served.harness import SERVED_KEY, Served, serve, xiaohu_command
from tests.web.test_console_pages import field, token_of
from xiaohu.assembly import build_runtime
from xiaohu.config import Settings
from xiaohu.demo.numbers import find_demo_numbers, situations
from xiaohu.demo.stores import CAPITALS, DEMO_STAFF_PASSWORDS
from xiaohu.kit.db import make_engine, transaction


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """A served sandbox with the demo data loaded by the real commands."""
    pytest.importorskip("faker")
    data = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    with serve("sandbox") as server:
        for args in (
            ["demo-data", "--lines", "300", "--seed", "7", "--out", str(data)],
            ["demo-load", str(data)],
        ):
            done = subprocess.run(  # noqa: S603 (our own command)
                [*xiaohu_command(), *args], env=server.env, capture_output=True, timeout=300
            )
            assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert server.put("/api/v1/sandbox/clock", {"now": NOW}).status_code == 200
        yield server, data


def closable_number(server: Served) -> tuple[str, str]:
    """A demo number the check says can be closed now with cash back, as `xiaohu
    demo-numbers` finds it; its province."""
    wanted = [s for s in situations() if s.shows.startswith(("clean line", "gift credit"))]
    engine = make_engine(server.database_url)
    settings = Settings(database_url=server.database_url, mode="sandbox", secret_key=SERVED_KEY)
    runtime = build_runtime(settings, engine)
    try:
        with transaction(runtime.sessions, readonly=True) as session:
            found = find_demo_numbers(runtime.context(session, actor="test"), wanted)
    finally:
        engine.dispose()
    assert found, "the demo has no number to close"
    return found[0].msisdn, found[0].province_code


def owner_of(data: Path, msisdn: str) -> dict[str, str]:
    for raw in data.read_text(encoding="utf-8").splitlines():
        record: dict[str, Any] = json.loads(raw)
        if record.get("msisdn") == msisdn:
            return dict(record["owner"])
    raise AssertionError(f"{msisdn} is not in the demo file")


def test_a_demo_clerk_closes_a_demo_number_with_a_cash_refund(
    demo: tuple[Served, Path],
) -> None:
    server, data = demo
    msisdn, province = closable_number(server)
    owner = owner_of(data, msisdn)
    http = server.http
    login = f"{CAPITALS[province][0].lower()}.clerk1"

    token = token_of(http.get("/console").text)
    r = http.post("/console/sign-in", data={"csrf_token": token, "login": login,
                                            "password": DEMO_STAFF_PASSWORDS["clerk"]})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/console/find", r.text
    page = http.get("/console/find", params={"msisdn": msisdn})
    assert page.status_code == 200 and 'data-screen="documents"' in page.text
    r = http.post(
        "/console/visit",
        data={"csrf_token": token_of(page.text), "msisdn": msisdn, "mode": "owner",
              "owner_id_type": owner["id_type"], "owner_name": owner["name"],
              "owner_id_number": owner["id_number"], "originals_seen": "1"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    html = r.text
    if 'id="blocker-arrears"' in html:  # the arrears, taken in cash first
        r = http.post(
            "/console/visit/pay",
            data={"csrf_token": token_of(html), "form_key": field(html, "form_key"),
                  "amount": field(html, "amount"), "method": "cash"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        html = r.text
    assert 'id="cancel-form"' in html, html
    refund = re.search(r'id="refund-now">([^<]+)<', html)
    assert refund
    form = re.search(r'<form[^>]*id="cancel-form".*?</form>', html, re.S)
    assert form
    r = http.post(
        "/console/visit/cancel",
        data={"csrf_token": token_of(html), "form_key": field(form.group(0), "form_key"),
              "quote_id": field(html, "quote_id"), "route": "cash",
              "ack": re.findall(r'name="ack" value="([A-Z_]+)"', html)},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    receipt = http.get(r.headers["location"]).text
    assert 'id="hand-over"' in receipt and refund.group(1) in receipt
    drawer = http.get("/console/drawer").text
    assert 'data-reconciled="true"' in drawer
    assert f"−{refund.group(1)}" in drawer
