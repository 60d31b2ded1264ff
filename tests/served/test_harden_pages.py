"""What a browser gets when a request is refused or fails over HTTP: the service's HTML error
page with the right status, never problem+json; and the query and /healthz edges an API
client sees (invalid UTF-8 in a query value, Retry-After on /healthz's 503)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.served.flows import add_line, sign_in
from tests.served.harness import Served, serve
from xiaohu.kit.db import make_engine

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _page(r: object, status: int) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html"), r.headers  # type: ignore[attr-defined]
    assert f"HTTP {status}" in r.text  # type: ignore[attr-defined]


def test_a_nul_in_a_sign_in_form_field_is_a_422_page(server: Served) -> None:
    r = server.http.post(
        "/sign-in/code",
        content=b"msisdn=138%0000138000&csrf=x",
        headers={**HTML, "content-type": "application/x-www-form-urlencoded"},
    )
    _page(r, 422)


def test_a_nul_in_a_page_path_is_a_404_page(server: Served) -> None:
    _page(server.http.get("/done/%00", headers=HTML), 404)


def test_a_missing_file_under_static_is_a_page_only_for_a_browser(server: Served) -> None:
    _page(server.http.get("/static/nope.css", headers=HTML), 404)
    r = server.http.get("/static/nope.css", headers={"accept": "text/css,*/*;q=0.1"})
    assert r.status_code == 404 and not r.headers["content-type"].startswith("text/html")


def test_api_refusals_stay_problem_json_for_a_browser(server: Served) -> None:
    r = server.http.get("/api/v1/sandbox/sms?msisdn=%00", headers=HTML)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


def test_invalid_utf8_in_a_query_value_is_a_422_naming_it(server: Served) -> None:
    r = server.http.get("/api/v1/sandbox/sms?msisdn=%FF%FE")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "query.msisdn", "reason": "is not valid UTF-8 text"}]
    assert server.get("/api/v1/sandbox/sms", params={"msisdn": "１３８"}).status_code != 500


@pytest.fixture()
def database_down() -> Iterator[Served]:
    if not os.environ.get("XIAOHU_TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("needs PostgreSQL: a SQLite file cannot be taken away from open connections")
    with serve("sandbox") as server:
        # A signed-in browser: its page reads the line, so it needs the database.
        server.http.cookies.set("xh_session", sign_in(server, add_line(server)["msisdn"]))
        name = make_url(server.database_url).database
        admin = make_engine(
            make_url(server.database_url).set(database="postgres").render_as_string(False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as db:
            db.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            db.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
        try:
            yield server
        finally:
            server.http.cookies.clear()
            with admin.connect() as db:
                db.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()


def test_with_the_database_down_pages_and_healthz_say_when_to_retry(
    database_down: Served,
) -> None:
    r = database_down.http.get("/line", headers=HTML)
    _page(r, 503)
    assert int(r.headers["retry-after"]) > 0
    r = database_down.http.get("/healthz")
    assert r.status_code == 503 and r.json()["database"] == "unreachable"
    assert int(r.headers["retry-after"]) > 0
