"""One node that cannot be reached: its provinces answer 503 NODE_UNAVAILABLE, the others work.

In process, with a node on SQLite and a node whose PostgreSQL server is not there (a closed
port): the served, three-server version of this story is in test_national_faults.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import factories
from tests.conftest import test_settings
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.kit.migrate import upgrade
from xiaohu.runtime import Runtime

BEIJING_LINE = factories.line_record(province="11")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is


@pytest.fixture
def national(tmp_path: Path) -> Iterator[Runtime]:
    path = tmp_path / "nodes.toml"
    down = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/xiaohu"
    path.write_text(
        'broker_url = "amqp://guest:guest@127.0.0.1:5672/%2F"\n'
        f'[nodes.north]\ndatabase_url = "sqlite:///{tmp_path}/north.db"\nprovinces = ["*"]\n'
        f'[nodes.south]\ndatabase_url = "{down}"\nprovinces = ["44"]\n',
        encoding="utf-8",
    )
    # North's data is loaded while it is the only node (the national import asks every node
    # for the five-lines rule, and south is down).
    north = build_runtime(test_settings(f"sqlite:///{tmp_path}/north.db"))
    upgrade(north.engine)
    with north.sessions() as session:
        factories.load(north.context(session), BEIJING_LINE)
        session.commit()
    north.engine.dispose()
    rt = build_runtime(test_settings("sqlite:///unused.db", node_map=path, broker_threads=False))
    yield rt
    for name in rt.nodes.names():
        rt.engine_of(name).dispose()


def test_the_provinces_of_a_node_that_is_down_answer_node_unavailable(national: Runtime) -> None:
    beijing, guangdong = BEIJING_LINE["msisdn"], factories.msisdn("44")
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        down = client.post("/api/v1/auth/otp", json={"msisdn": guangdong})
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("application/problem+json")
        assert down.json()["code"] == "NODE_UNAVAILABLE"
        assert int(down.headers["retry-after"]) > 0
        # Beijing's node answers as ever, before and after the failure.
        up = client.post("/api/v1/auth/otp", json={"msisdn": beijing})
        assert up.status_code == 202, up.text


def test_metrics_add_up_every_node_and_leave_out_one_that_is_down(tmp_path: Path) -> None:
    import datetime as dt

    from sqlalchemy import text

    path = tmp_path / "nodes.toml"
    down = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/xiaohu"
    path.write_text(
        'broker_url = "amqp://guest:guest@127.0.0.1:5672/%2F"\n'
        f'[nodes.a]\ndatabase_url = "sqlite:///{tmp_path}/a.db"\nprovinces = ["*"]\n'
        f'[nodes.b]\ndatabase_url = "sqlite:///{tmp_path}/b.db"\nprovinces = ["44"]\n'
        f'[nodes.c]\ndatabase_url = "{down}"\nprovinces = ["45"]\n',
        encoding="utf-8",
    )
    rt = build_runtime(test_settings("sqlite:///unused.db", node_map=path, broker_threads=False))
    at = dt.datetime(2026, 11, 26, tzinfo=dt.UTC).isoformat()
    for name in ("a", "b"):
        upgrade(rt.engine_of(name))
        with rt.engine_of(name).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbox (topic, province_code, payload, created_at, attempts,"
                    " status) VALUES ('sms', '11', '{}', :at, 0, 'dead')"
                ),
                {"at": at},
            )
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        r = client.get("/metrics")
    assert r.status_code == 200, r.text
    line = next(x for x in r.text.splitlines() if x.startswith("xiaohu_outbox_messages{"))
    assert 'topic="sms"' in line and 'status="dead"' in line and line.endswith(" 2.0"), line
