"""The database goes away under a running server: every API call answers 503 problem+json
with Retry-After on the same kept-alive connection, and 200 again once it is back. On
PostgreSQL: the served database stops accepting connections and its sessions are ended."""

from __future__ import annotations

import http.client
import json
import os

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.served.flows import add_line, sign_in
from tests.served.harness import serve
from xiaohu.kit.db import make_engine

pytestmark = pytest.mark.skipif(
    not os.environ.get("XIAOHU_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs PostgreSQL: a SQLite file cannot be taken away from open connections",
)


def test_unreachable_database_is_503_on_a_kept_alive_connection() -> None:
    with serve("sandbox") as server:
        record = add_line(server)
        msisdn = record["msisdn"]
        token = sign_in(server, msisdn)
        name = make_url(server.database_url).database
        admin = make_engine(
            make_url(server.database_url).set(database="postgres").render_as_string(False),
            isolation_level="AUTOCOMMIT",
        )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}

        def call(method: str, path: str, body: object = None) -> tuple[int, dict, dict]:
            payload = None if body is None else json.dumps(body)
            h = {**headers, "Content-Type": "application/json"} if payload else headers
            conn.request(method, path, body=payload, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), json.loads(r.read() or b"null")

        try:
            assert call("GET", f"/api/v1/lines/{msisdn}")[0] == 200
            socket_before = conn.sock
            with admin.connect() as db:
                db.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                db.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": name},
                )
            for method, path, body in [
                ("GET", f"/api/v1/lines/{msisdn}", None),
                ("GET", f"/api/v1/lines/{msisdn}/cancellation-check", None),
                ("POST", f"/api/v1/lines/{msisdn}/payments", {"amount_fen": 100}),
                ("GET", "/api/v1/admin/audit/verify", None),
                ("POST", "/api/v1/auth/otp", {"msisdn": msisdn}),
            ]:
                status, got, problem = call(method, path, body)
                assert status == 503, (path, problem)
                assert got["content-type"].startswith("application/problem+json")
                assert problem["code"] == "DATABASE_UNAVAILABLE"
                assert int(got["retry-after"]) > 0
                assert "close" not in got.get("connection", "")
                assert conn.sock is socket_before, "the server dropped the connection"
            assert call("GET", "/healthz")[0] == 503
            with admin.connect() as db:
                db.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            assert call("GET", f"/api/v1/lines/{msisdn}")[0] == 200
            assert conn.sock is socket_before
        finally:
            conn.close()
            with admin.connect() as db:
                db.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
        assert msisdn not in server.log(), "a phone number reached the server log"
