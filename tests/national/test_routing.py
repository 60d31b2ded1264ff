"""Which node a request runs on, read from the request as a client sends it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from tests.conftest import test_settings
from xiaohu import principals
from xiaohu.assembly import build_runtime
from xiaohu.kit.clock import FrozenClock
from xiaohu.regions.rules import home_of
from xiaohu.routing import node_for, province_of
from xiaohu.runtime import Context, Runtime

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
BEIJING, GUANGDONG = "13800138000", "13802345678"  # 11 and 44 by their prefixes


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    folder = tmp_path_factory.mktemp("nodes")
    path = folder / "nodes.toml"
    path.write_text(
        'broker_url = "amqp://guest:guest@127.0.0.1:5672/%2F"\n'
        f'[nodes.north]\ndatabase_url = "sqlite:///{folder}/north.db"\nprovinces = ["11"]\n'
        f'[nodes.south]\ndatabase_url = "sqlite:///{folder}/south.db"\nprovinces = ["*"]\n',
        encoding="utf-8",
    )
    return build_runtime(test_settings(f"sqlite:///{folder}/unused.db", node_map=path))


def request(
    path_params: dict[str, str] | None = None,
    *,
    query: str = "",
    body: dict[str, Any] | None = None,
    token: str | None = None,
    cookies: dict[str, str] | None = None,
) -> Request:
    headers = []
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if cookies:
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": query.encode(),
        "headers": headers,
        "path_params": path_params or {},
    }
    req = Request(scope)
    if body is not None:
        req._body = json.dumps(body).encode()  # as FastAPI leaves it after reading the body
    return req


def test_the_numbers_are_where_the_test_says() -> None:
    assert (home_of(BEIJING), home_of(GUANGDONG)) != (None, None)
    assert home_of(BEIJING).province_code == "11"  # type: ignore[union-attr]
    assert home_of(GUANGDONG).province_code == "44"  # type: ignore[union-attr]


def test_a_number_in_the_path_query_or_body_picks_its_home_node(national: Runtime) -> None:
    assert node_for(request({"msisdn": GUANGDONG}), national) == "south"
    assert node_for(request({"msisdn": BEIJING}), national) == "north"
    assert node_for(request(query=f"msisdn={GUANGDONG}"), national) == "south"
    assert node_for(request(body={"msisdn": BEIJING, "amount_fen": 1}), national) == "north"


def test_a_token_picks_the_node_of_its_line_or_its_staff_province(national: Runtime) -> None:
    key = national.settings.key
    line = principals.issue(key, 7, GUANGDONG, NOW, 600)
    assert node_for(request(token=line), national) == "south"
    staff = principals.issue_staff(
        key, staff_id=1, login="bj.clerk1", role="clerk", province_code="11",
        store_code="11-0001", now=NOW, ttl_seconds=600,
    )  # fmt: skip
    assert node_for(request(token=staff), national) == "north"
    # The number the request acts on outranks the clerk's own province.
    assert node_for(request({"msisdn": GUANGDONG}, token=staff), national) == "south"
    assert province_of(request(cookies={"xh_staff": staff}), national) == "11"


def test_nothing_to_go_by_is_the_default_node(national: Runtime) -> None:
    assert node_for(request(), national) == national.nodes.default == "north"
    assert node_for(request(token="not.a.token"), national) == "north"
    assert node_for(request(body={"msisdn": "12345"}), national) == "north"
    assert node_for(request({"province_code": "44"}), national) == "south"


def test_one_node_reads_nothing(tmp_path: Path) -> None:
    rt = build_runtime(test_settings(f"sqlite:///{tmp_path}/one.db"))
    assert node_for(request({"msisdn": GUANGDONG}), rt) == "local"
    assert rt.sessions_of("local") is rt.sessions and rt.on_node("local") is rt


def test_a_hotline_session_and_the_pages_cookies_pick_the_line(national: Runtime) -> None:
    from fastapi import Response

    from xiaohu.web import console_session

    key = national.settings.key
    hotline = principals.issue_hotline(
        key, 7, GUANGDONG, agent_id=3, agent_login="bj.agent", now=NOW, ttl_seconds=600
    )
    assert node_for(request(token=hotline), national) == "south"
    line = principals.issue(key, 7, GUANGDONG, NOW, 600)
    assert node_for(request(cookies={"xh_session": line}), national) == "south"
    # The clerk console: a Beijing clerk serving a Guangdong visitor runs on the visitor's node.
    staff_token = principals.issue_staff(
        key, staff_id=1, login="bj.clerk1", role="clerk", province_code="11",
        store_code="11-0001", now=NOW, ttl_seconds=600,
    )  # fmt: skip
    staff = principals.verify_staff(key, staff_token, NOW)
    assert staff is not None
    response = Response()
    with national.sessions() as session:
        ctx = Context(national, session, FrozenClock(NOW))
        visit = console_session.Visit(msisdn=GUANGDONG, documents={})
        console_session.start_visit(request(), response, ctx, staff, visit)
    sealed = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    cookies = {"xh_staff": staff_token, "xh_visit": sealed}
    assert node_for(request(cookies=cookies), national) == "south"
    # A visit cookie sealed for another clerk says nothing: the clerk's own province.
    other = principals.issue_staff(
        key, staff_id=2, login="bj.clerk2", role="clerk", province_code="11",
        store_code="11-0001", now=NOW, ttl_seconds=600,
    )  # fmt: skip
    assert node_for(request(cookies={"xh_staff": other, "xh_visit": sealed}), national) == "north"
