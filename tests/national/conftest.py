"""Fixtures of the national tests that run real servers: PostgreSQL on 5432/5433/5434
(`make pg-nodes`) and RabbitMQ on 5672. Skipped when a server is not there.

broker_*: the broker tests' own databases (`xiaohu_b_n<i>_<pid>`), a broker namespace of their
own per test (its queues and exchange deleted afterwards), node maps over them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import test_settings
from xiaohu.assembly import build_runtime
from xiaohu.kit.db import make_engine
from xiaohu.kit.migrate import upgrade
from xiaohu.national.broker import delete_topology
from xiaohu.runtime import Runtime

# The modules that run on the pure rules or on SQLite files run in both passes of `make test`;
# the others need the three PostgreSQL servers and the broker, and run in the PostgreSQL pass
# only (`XIAOHU_TEST_DATABASE_URL` set), so the two passes do not race on the same servers.
IN_BOTH_PASSES = {"test_nodemap", "test_routing", "test_node_down"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    url = os.environ.get("XIAOHU_TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs the national servers: runs in the PostgreSQL pass")
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if path.parent == here and path.stem not in IN_BOTH_PASSES:
            item.add_marker(skip)


BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
BROKER_PORTS = {"a": 5432, "b": 5433, "c": 5434}
# Which node holds which provinces in the broker tests: a (the default) every province but
# Guangdong (44, node b) and Guangxi (45, node c).
BROKER_PROVINCES = {"a": ["*"], "b": ["44"], "c": ["45"]}


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class BrokerNodes:
    urls: dict[str, str]  # node → database URL
    engines: dict[str, Engine]

    def map_file(self, tmp: Path, namespace: str, broker_url: str = BROKER_URL) -> Path:
        lines = [f'broker_url = "{broker_url}"', f'broker_namespace = "{namespace}"',
                 'default = "a"']  # fmt: skip
        for name, provinces in BROKER_PROVINCES.items():
            quoted = ", ".join(f'"{p}"' for p in provinces)
            lines += ["", f"[nodes.{name}]", f'database_url = "{self.urls[name]}"',
                      f"provinces = [{quoted}]"]  # fmt: skip
        path = tmp / f"nodes-{namespace}.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def broker_nodes() -> Iterator[BrokerNodes]:
    """Three node databases, one on each server, migrated; dropped at the end."""
    missing = [p for p in [*BROKER_PORTS.values(), 5672] if not _reachable(p)]
    if missing:
        pytest.skip(f"national servers not running (ports {missing}): make pg-nodes")
    urls: dict[str, str] = {}
    engines: dict[str, Engine] = {}
    admins: list[tuple[Engine, str]] = []
    try:
        for i, (name, port) in enumerate(BROKER_PORTS.items(), start=1):
            db = f"xiaohu_b_n{i}_{os.getpid()}"
            # No pool: a test restarts a server, and a pooled connection would be a dead one.
            admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                                  isolation_level="AUTOCOMMIT", poolclass=NullPool)  # fmt: skip
            admins.append((admin, db))
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{db}"'))
            urls[name] = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{db}"
            engines[name] = make_engine(urls[name])
            upgrade(engines[name])
        yield BrokerNodes(urls, engines)
    finally:
        for engine in engines.values():
            engine.dispose()
        for admin, db in admins:
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            finally:
                admin.dispose()


@pytest.fixture()
def broker_namespace() -> Iterator[str]:
    """A namespace no other test or run uses; its queues and exchange deleted afterwards."""
    namespace = f"xhtest-{uuid.uuid4().hex[:10]}"
    try:
        yield namespace
    finally:
        delete_topology(BROKER_URL, namespace)


@pytest.fixture()
def broker_map(broker_nodes: BrokerNodes, broker_namespace: str, tmp_path: Path) -> Path:
    return broker_nodes.map_file(tmp_path, broker_namespace)


def broker_runtime(map_file: Path) -> Runtime:
    return build_runtime(test_settings(f"sqlite:///{map_file.parent / 'unused.db'}",
                                       node_map=map_file))  # fmt: skip
