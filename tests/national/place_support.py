"""Three real PostgreSQL servers as the nodes of a national deployment, for the placement and
move tests: databases of their own (`xiaohu_p_n1..3_<pid>` on 5432, 5433, 5434; `make pg-nodes`
starts the servers), a node map file, and a runtime on it whose transactions really commit."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from tests.conftest import test_settings
from tests.served.harness import SERVED_KEY, xiaohu_command
from xiaohu import nodemap
from xiaohu.assembly import build_runtime
from xiaohu.kit.db import make_engine
from xiaohu.runtime import Runtime

HOST = "postgresql+psycopg://postgres@127.0.0.1"
NODES = {"north": (5432, ["11"]), "south": (5433, ["44"]), "west": (5434, ["*"])}
CLUSTER_OF = {"west": "xiaohu3", "south": "xiaohu2"}  # Debian clusters (pg_ctlcluster)
BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


def url_of(node: str) -> str:
    port, _ = NODES[node]
    return f"{HOST}:{port}/{database_name(port)}"


def database_name(port: int) -> str:
    """This test process's own database on the server at `port`: two runs at once (a
    developer's and CI's) never drop each other's."""
    return f"xiaohu_p_n{port - 5431}_{os.getpid()}"


def map_toml(
    urls: Mapping[str, str], held: Mapping[str, list[str]], *, default: str, namespace: str
) -> str:
    """A node map's text: node `name` on `urls[name]` holding `held[name]` ("*": every
    province no other node names), on the test broker; checked by `nodemap.parse` and written
    by `nodemap.dump`, as a province move writes it ("*" comes out as the provinces it means)."""
    raw = {
        "broker_url": BROKER,
        "default": default,
        "broker_namespace": namespace,
        "nodes": {
            name: {"database_url": urls[name], "provinces": provinces}
            for name, provinces in held.items()
        },
    }
    return nodemap.dump(nodemap.parse(raw))


def map_text() -> str:
    return map_toml(
        {name: url_of(name) for name in NODES},
        {name: provinces for name, (_, provinces) in NODES.items()},
        default="north",
        namespace="xiaohu_p",
    )


@dataclass
class Cluster:
    """The three nodes, migrated by `xiaohu migrate` (its output kept for the test of it)."""

    map_path: Path
    migrate_output: str
    engines: dict[str, Engine]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOHU_")}
        env.update(
            {
                "XIAOHU_DATABASE_URL": url_of("north"),
                "XIAOHU_NODE_MAP": str(self.map_path),
                "XIAOHU_MODE": "sandbox",
                "XIAOHU_SECRET_KEY": SERVED_KEY,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def xiaohu(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 (our own command)
            [*xiaohu_command(), *args], env=self.env(), capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"xiaohu {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def reset_map(self) -> None:
        self.map_path.write_text(map_text(), encoding="utf-8")

    def empty(self) -> None:
        """Every table emptied on every node (the chart of accounts, seed data, stays); the
        sequences are left where they are, in their id blocks."""
        from xiaohu.models import metadata

        names = ", ".join(
            f'"{t.name}"' for t in metadata.sorted_tables if t.name != "ledger_accounts"
        )
        for engine in self.engines.values():
            engine.dispose()  # a server restarted by a test leaves dead pooled connections
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} CASCADE"))

    def scalar(self, node: str, sql: str, **params: object) -> object:
        with self.engines[node].connect() as conn:
            return conn.execute(text(sql), params).scalar()


def _drop_databases() -> None:
    """The process's databases dropped at the end, so runs leave nothing behind."""
    for port, _ in NODES.values():
        admin = make_engine(f"{HOST}:{port}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database_name(port)}" WITH (FORCE)'))
        except SQLAlchemyError:  # a server a test left down: nothing to drop there now
            pass
        finally:
            admin.dispose()


def _fresh_databases() -> None:
    for node in NODES:
        port, _ = NODES[node]
        admin = make_engine(f"{HOST}:{port}/postgres", isolation_level="AUTOCOMMIT")
        name = database_name(port)
        try:
            for attempt in range(5):
                try:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
                    break
                except ProgrammingError:  # template1 in use by another CREATE DATABASE
                    if attempt == 4:
                        raise
                    time.sleep(1)
        except OperationalError as exc:
            pytest.skip(f"PostgreSQL on port {port} is not running (make pg-nodes): {exc}")
        finally:
            admin.dispose()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _fresh_databases()
    path = tmp_path_factory.mktemp("nodes") / "nodes.toml"
    path.write_text(map_text(), encoding="utf-8")
    engines = {name: make_engine(url_of(name)) for name in NODES}
    c = Cluster(path, "", engines)
    c.migrate_output = c.xiaohu("migrate").stdout
    try:
        yield c
    finally:
        for engine in engines.values():
            engine.dispose()
        _drop_databases()


@pytest.fixture()
def national(cluster: Cluster) -> Iterator[Runtime]:
    """A runtime on the map (its transactions commit); every node emptied afterwards."""
    cluster.reset_map()
    rt = build_runtime(
        test_settings(url_of("north"), node_map=cluster.map_path, secret_key=SERVED_KEY)
    )
    try:
        yield rt
    finally:
        for name in rt.nodes.names():
            rt.engine_of(name).dispose()
        cluster.reset_map()
        cluster.empty()
