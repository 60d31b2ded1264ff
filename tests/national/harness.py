"""A national deployment run for real, driven the way an outside integrator drives it.

Three PostgreSQL servers (5432, 5433, 5434: `make pg-nodes`), each holding one test database
(`xiaohu_t_n1_<pid>` … `xiaohu_t_n3_<pid>`), the machine's RabbitMQ behind a small TCP proxy
a test can cut and restore, a node map with a broker namespace of its own (so a run never hears
another run's messages), and `xiaohu serve` in a subprocess spoken to over HTTP only. The node
map cuts the country the way the stories need it:

    n1: 11 Beijing, and the national data (the default node)
    n2: 44 Guangdong
    n3: '*' every other province (32 Jiangsu among them)

Reads straight from a node's database are for what no client can see and a test must count:
outbox rows waiting, messages applied, ledger postings made.

Fixtures are named `nat_*`; the test modules import them from here.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from sqlalchemy import Engine, text

from tests.factories import STAFF_PASSWORD
from tests.served.harness import SERVED_KEY, Served, free_port, server_env, xiaohu_command
from xiaohu.kit.db import make_engine
from xiaohu.regions.provinces import PROVINCES

T = TypeVar("T")

HOST = "127.0.0.1"
NODES = ("n1", "n2", "n3")
PORTS = {"n1": 5432, "n2": 5433, "n3": 5434}
# Named by this test process, so two runs at once (a developer's and CI's) never collide.
DATABASES = {n: f"xiaohu_t_{n}_{os.getpid()}" for n in ("n1", "n2", "n3")}
HOLDS = {"n1": ["11"], "n2": ["44"], "n3": ["*"]}
NODE_OF = {"11": "n1", "44": "n2", "32": "n3", "65": "n3", "51": "n3"}
# The Debian clusters a fault test may stop (never the machine's own on 5432: n1 is the
# default node, and other work on this machine uses it).
CLUSTERS = {"n2": "xiaohu2", "n3": "xiaohu3"}
BROKER_PORT = 5672
BROKER_DIRECT = f"amqp://guest:guest@{HOST}:{BROKER_PORT}/%2F"
# Outbox retries in seconds, not minutes: a fault test restores the broker and waits for the
# backlog to flow within its own time limit.
FAST_RETRIES = {
    "XIAOHU_OUTBOX_RETRY_BASE_SECONDS": "0.2",
    "XIAOHU_OUTBOX_RETRY_CAP_SECONDS": "2",
}


def database_url(node: str, database: str | None = None) -> str:
    return f"postgresql+psycopg://postgres@{HOST}:{PORTS[node]}/{database or DATABASES[node]}"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def missing() -> str | None:
    """Why this run cannot start a national deployment now (None: it can). Only the PostgreSQL
    pass of `make test` runs one (it starts the extra servers first); the SQLite pass runs
    beside it, and one deployment at a time may use the test databases and clusters."""
    if not os.environ.get("XIAOHU_TEST_DATABASE_URL", "").startswith("postgresql"):
        return (
            "national tests run in the PostgreSQL pass (XIAOHU_TEST_DATABASE_URL names a "
            "PostgreSQL server; `make test-postgres`)"
        )
    for node, port in PORTS.items():
        if not _reachable(port):
            return (
                f"national tests need PostgreSQL on {HOST}:{port} (node {node}); "
                "`make pg-nodes` makes and starts the servers"
            )
    if not _reachable(BROKER_PORT):
        return f"national tests need RabbitMQ on {HOST}:{BROKER_PORT}"
    return None


def pg_version() -> str:
    """The newest PostgreSQL installed (Debian's layout), as the Makefile picks it."""
    versions = [p.name for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()]
    return max(versions, key=int) if versions else "15"


def cluster_control_missing() -> str | None:
    """Why a test cannot stop and start a node's server here (None: it can)."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return "stopping a node needs Debian's pg_ctlcluster"
    listed = subprocess.run(
        ["pg_lsclusters", "-h"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    names = {row.split()[1] for row in listed.splitlines() if len(row.split()) > 1}
    absent = sorted(set(CLUSTERS.values()) - names)
    return f"no cluster {absent[0]} (`make pg-nodes`)" if absent else None


def wait_for(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Ask `probe` until `done` holds for its answer; AssertionError naming `what` and the
    last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s; last seen {value!r}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# The broker, behind a proxy a test can cut


class BrokerProxy:
    """A TCP relay from a local port to RabbitMQ. `cut()` drops every connection through it and
    refuses new ones (the broker, as the app sees it, is gone); `restore()` lets them through
    again. The app's node map names the proxy's port, never the broker's."""

    def __init__(self, target: tuple[str, int] = (HOST, BROKER_PORT)) -> None:
        self.target = target
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, name="broker-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}/%2F"

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut(self) -> None:
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self._cut.set()
        with suppress(OSError):
            self._listener.close()
        self._drop_all()
        self._thread.join(timeout=5)

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                s.close()

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()  # the broker is "down": the connection ends at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    s.close()
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)


def broker_names(namespace: str) -> tuple[list[str], list[str]]:
    """(queues, exchanges) of the namespace on the broker: the ones the design names, and any
    other the broker lists under the namespace's prefix."""
    queues = {f"{namespace}.province.{code}" for code in PROVINCES}
    exchanges = {f"{namespace}.interprovince"}
    if shutil.which("rabbitmqctl"):
        for what, into in (("list_queues", queues), ("list_exchanges", exchanges)):
            with suppress(OSError, subprocess.SubprocessError):
                listed = subprocess.run(  # noqa: S603 (fixed command)
                    ["rabbitmqctl", "-q", what, "name"],  # noqa: S607
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                ).stdout
                into.update(n.strip() for n in listed.splitlines() if n.startswith(namespace + "."))
    return sorted(queues), sorted(exchanges)


def delete_broker_objects(namespace: str) -> None:
    """Remove the namespace's queues and exchanges (straight to the broker, not the proxy)."""
    import pika
    from pika.exceptions import AMQPError

    queues, exchanges = broker_names(namespace)
    try:
        conn = pika.BlockingConnection(pika.URLParameters(BROKER_DIRECT))
    except AMQPError:
        return
    try:
        channel = conn.channel()
        for name in queues:
            try:
                channel.queue_delete(name)
            except AMQPError:  # a broker that closes the channel on an unknown name
                channel = conn.channel()
        for name in exchanges:
            try:
                channel.exchange_delete(name)
            except AMQPError:
                channel = conn.channel()
    finally:
        with suppress(AMQPError):
            conn.close()


def queue_depth(namespace: str, province: str) -> int | None:
    """Messages ready in the province's queue (None: no such queue yet)."""
    import pika
    from pika.exceptions import AMQPError

    conn = pika.BlockingConnection(pika.URLParameters(BROKER_DIRECT))
    try:
        frame = conn.channel().queue_declare(f"{namespace}.province.{province}", passive=True)
        return int(frame.method.message_count)
    except AMQPError:
        return None
    finally:
        with suppress(AMQPError):
            conn.close()


# ---------------------------------------------------------------------------------------------
# The node databases


def _admin(node: str) -> Engine:
    return make_engine(database_url(node, "postgres"), isolation_level="AUTOCOMMIT")


def make_databases() -> None:
    """A fresh, empty test database on each node's server (an earlier run's dropped)."""
    for node in NODES:
        admin = _admin(node)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASES[node]}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{DATABASES[node]}"'))
        finally:
            admin.dispose()


def drop_databases() -> None:
    for node in NODES:
        with suppress(Exception):  # a server a failed test left down: the next run drops it
            admin = _admin(node)
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASES[node]}" WITH (FORCE)'))
            finally:
                admin.dispose()


@contextmanager
def cluster_down(node: str, timeout: float = 60) -> Iterator[None]:
    """The node's PostgreSQL server stopped (fast: sessions cut) for the block, and always
    started again afterwards, waiting until it accepts connections."""
    cluster = CLUSTERS[node]
    control = ["pg_ctlcluster", pg_version(), cluster]
    subprocess.run([*control, "stop", "-m", "fast"], check=True, timeout=timeout)  # noqa: S603
    try:
        yield
    finally:
        start_cluster(node, timeout)


def start_cluster(node: str, timeout: float = 60) -> None:
    control = ["pg_ctlcluster", pg_version(), CLUSTERS[node]]
    subprocess.run([*control, "start"], check=False, timeout=timeout)  # noqa: S603
    wait_for(f"node {node}'s server back", lambda: _reachable(PORTS[node]), bool, timeout)


# ---------------------------------------------------------------------------------------------
# The deployment


class National:
    """Three nodes, the proxied broker, the node map and one `xiaohu serve` over them."""

    def __init__(self, workdir: Path, *, consumers: bool = False) -> None:
        self.workdir = workdir
        # False: the served process relays and consumes (its broker threads); True: it only
        # serves, and a `xiaohu consume --node N` process per node moves the messages.
        self.consumers = consumers
        # Unique per run: two runs (or two people) on one broker never share a queue.
        self.namespace = f"xt{os.getpid()}{secrets.token_hex(3)}"
        self.proxy = BrokerProxy()
        self.node_map = workdir / "nodes.toml"
        self.node_map.write_text(self.node_map_text(), encoding="utf-8")
        self.env = server_env(
            database_url("n1"),
            "sandbox",
            {
                "XIAOHU_NODE_MAP": str(self.node_map),
                "XIAOHU_BROKER_THREADS": "false" if consumers else "true",
                **FAST_RETRIES,
            },
        )
        self.server = Served(database_url("n1"), self.env, workdir)
        self._engines: dict[str, Engine] = {}
        self._spawned: list[subprocess.Popen[bytes]] = []
        self._logs: dict[int, Path] = {}
        self.consumer: dict[str, subprocess.Popen[bytes]] = {}

    def node_map_text(self) -> str:
        lines = [
            f'broker_url = "{self.proxy.url}"',
            f'broker_namespace = "{self.namespace}"',
            'default = "n1"',
        ]
        for node in NODES:
            provinces = ", ".join(f'"{p}"' for p in HOLDS[node])
            lines += ["", f"[nodes.{node}]", f'database_url = "{database_url(node)}"',
                      f"provinces = [{provinces}]"]  # fmt: skip
        return "\n".join(lines) + "\n"

    # Commands of the deployment, in processes of their own.
    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (our own command)
            [*xiaohu_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """A long-running command (a consumer); killed at the end if still running."""
        path = self.workdir / f"{args[0]}-{len(self._spawned)}.log"
        with path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (our own command)
                [*xiaohu_command(), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._spawned.append(process)
        self._logs[process.pid] = path
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        path = self._logs.get(process.pid)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def start_consumer(self, node: str, timeout: float = 60) -> subprocess.Popen[bytes]:
        """`xiaohu consume --node N`, waited for until it says it runs."""
        process = self.spawn("consume", "--node", node)
        self.consumer[node] = process
        wait_for(
            f"xiaohu consume --node {node} running",
            lambda: process.poll() is not None or "until SIGTERM" in self.log_of(process),
            bool,
            timeout,
        )
        if process.poll() is not None:
            raise RuntimeError(f"xiaohu consume --node {node} ended:\n{self.log_of(process)}")
        return process

    def kill_consumer(self, node: str) -> None:
        """kill -9: no goodbye to the broker or the database."""
        process = self.consumer.pop(node)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def start(self) -> None:
        # Other work on this machine may be restarting a node's server this very moment:
        # `xiaohu migrate` is safe to repeat, so it is given a few tries.
        for attempt in range(4):
            nodes_up()
            done = self.run("migrate")
            if done.returncode == 0:
                break
            if attempt == 3:
                raise RuntimeError(f"xiaohu migrate failed:\n{done.stdout}\n{done.stderr}")
            time.sleep(3)
        self.server.start(timeout=90)
        if self.consumers:
            for node in NODES:
                self.start_consumer(node)

    def stop(self) -> None:
        for process in self._spawned:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
        self.server.stop()
        self.proxy.close()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def log(self) -> str:
        return self.server.log()

    # Straight reads of a node's database: what only counting can show.
    def engine(self, node: str) -> Engine:
        if node not in self._engines:
            self._engines[node] = make_engine(
                database_url(node), connect_args={"connect_timeout": 3}, pool_pre_ping=True
            )
        return self._engines[node]

    def scalar(self, node: str, sql: str, **params: Any) -> Any:
        with self.engine(node).connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, node: str, sql: str, **params: Any) -> list[Any]:
        with self.engine(node).connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def last_outbox_id(self, node: str) -> int:
        return int(self.scalar(node, "SELECT coalesce(max(id), 0) FROM outbox") or 0)

    def messages_since(self, node: str, after_id: int) -> list[dict[str, Any]]:
        """The messages between provinces `node` has written since outbox row `after_id`:
        each {"outbox_id", "status", "id", "kind", "to_province", "payload"}."""
        with self.engine(node).connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, status, payload FROM outbox WHERE topic = 'interprovince' "
                    "AND id > :after ORDER BY id"
                ),
                {"after": after_id},
            ).all()
        out = []
        for outbox_id, status, payload in rows:
            out.append({"outbox_id": outbox_id, "status": status, **payload})
        return out

    def applied(self, node: str, message_ids: list[str]) -> int:
        """How many of these messages `node` has applied (its inbox)."""
        if not message_ids:
            return 0
        with self.engine(node).connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM interprovince_applied WHERE message_id = ANY(:ids)"),
                {"ids": list(message_ids)},
            ).scalar()
        return int(found or 0)

    def postings(self, node: str, kind: str, refs: list[str]) -> dict[str, int]:
        """Journal transactions of `kind` per ref on `node` (one each: applied once)."""
        with self.engine(node).connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT ref, count(*) FROM journal_transactions WHERE kind = :kind "
                    "AND ref = ANY(:refs) GROUP BY ref"
                ),
                {"kind": kind, "refs": list(refs)},
            ).all()
        return {str(ref): int(n) for ref, n in rows}


def start_national(workdir: Path, *, consumers: bool = False) -> National:
    reason = missing()
    if reason:
        pytest.skip(reason)
    make_databases()
    national = National(workdir, consumers=consumers)
    try:
        national.start()
    except BaseException:
        national.stop()
        delete_broker_objects(national.namespace)
        drop_databases()
        raise
    return national


@contextmanager
def national_deployment(*, consumers: bool = False) -> Iterator[National]:
    """A deployment in a temporary folder (its node map, the processes' logs); with
    XIAOHU_TEST_NATIONAL_LOGS naming a folder, the logs are kept there to read afterwards."""
    keep = os.environ.get("XIAOHU_TEST_NATIONAL_LOGS")
    with tempfile.TemporaryDirectory(prefix="xiaohu-national-", dir=keep or None) as tmp:
        if keep:
            tmp = tempfile.mkdtemp(prefix="run-", dir=keep)
        national = start_national(Path(tmp), consumers=consumers)
        try:
            yield national
        finally:
            national.stop()
            delete_broker_objects(national.namespace)
            drop_databases()


@pytest.fixture(scope="module")
def nat_deployment() -> Iterator[National]:
    """One national deployment per test module (servers are slow to start; tests make their
    own lines, so they share it)."""
    with national_deployment() as national:
        yield national


@pytest.fixture(scope="module")
def nat_consumed_deployment() -> Iterator[National]:
    """The same, but the served process leaves the broker to a `xiaohu consume --node N`
    process per node (which a test may kill -9)."""
    with national_deployment(consumers=True) as national:
        yield national


@pytest.fixture(scope="module")
def nat_server(nat_deployment: National) -> Served:
    return nat_deployment.server


# ---------------------------------------------------------------------------------------------
# Stores and staff, loaded as an integrator loads them (the sandbox's import routes)

STORES = {
    "bj": {"code": "11-BJ-0901", "name": "北京西单测试营业厅", "province_code": "11",
           "city": "北京", "kind": "own_flagship"},
    "gz": {"code": "44-GZ-0901", "name": "广州天河测试营业厅", "province_code": "44",
           "city": "广州", "kind": "own_flagship"},
    "nj": {"code": "32-NJ-0901", "name": "南京新街口测试营业厅", "province_code": "32",
           "city": "南京", "kind": "own_flagship"},
    "wl": {"code": "65-WL-0901", "name": "乌鲁木齐测试营业厅", "province_code": "65",
           "city": "乌鲁木齐", "kind": "own_flagship"},
}  # fmt: skip
STAFF = {
    "bj.clerk": ("clerk", "11", STORES["bj"]["code"]),
    "gz.clerk": ("clerk", "44", STORES["gz"]["code"]),
    "nj.clerk": ("clerk", "32", STORES["nj"]["code"]),
    "wl.clerk": ("clerk", "65", STORES["wl"]["code"]),
    "bj.review": ("backoffice", "11", None),
    "gz.review": ("backoffice", "44", None),
    "nj.review": ("backoffice", "32", None),
}


class Staff:
    """The deployment's stores and staff; `token(login)` signs one in now (at the sandbox
    clock's time, so a test that moved the clock gets a token valid then)."""

    def __init__(self, server: Served) -> None:
        self.server = server

    def load(self) -> None:
        self._every_node("/api/v1/sandbox/stores", list(STORES.values()))
        staff = [
            {"login": f"nat.{login}", "name": "王五", "role": role, "province_code": p,
             **({"store_code": store} if store else {}), "password": STAFF_PASSWORD}
            for login, (role, p, store) in STAFF.items()
        ]  # fmt: skip
        self._every_node("/api/v1/sandbox/staff", staff)

    def _every_node(self, path: str, records: list[dict[str, Any]]) -> None:
        """Import reference data until every node reports it written (the import reports per
        node, and a node restarting right then misses it; a code or login again updates)."""

        def once() -> dict[str, str]:
            r = self.server.post(path, records)
            assert r.status_code in (200, 503), r.text
            nodes: dict[str, str] = (r.json().get("nodes") or {}) if r.status_code == 200 else {}
            if r.status_code == 503:
                nodes = {"?": "503"}
            return nodes

        wait_for(f"{path} written on every node", once,
                 lambda nodes: all(v.startswith("ok") for v in nodes.values()), 60)  # fmt: skip

    def token(self, login: str) -> str:
        r = self.server.post(
            "/api/v1/staff/token", {"login": f"nat.{login}", "password": STAFF_PASSWORD}
        )
        assert r.status_code == 200, f"sign-in of nat.{login}: {r.status_code} {r.text}"
        return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def nat_staff(nat_server: Served) -> Staff:
    staff = Staff(nat_server)
    staff.load()
    return staff


# ---------------------------------------------------------------------------------------------
# What a client does at a counter and at head office, over HTTP

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def documents(record: dict[str, Any]) -> dict[str, Any]:
    return {"owner": dict(record["owner"])}


def store_check(server: Served, clerk: str, record: dict[str, Any]) -> dict[str, Any]:
    body = {"msisdn": record["msisdn"], "documents": documents(record)}
    r = server.post("/api/v1/store/cancellation-checks", body, token=clerk)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def store_cancel(
    server: Served, clerk: str, record: dict[str, Any], check: dict[str, Any], refund: str = "cash"
) -> httpx2.Response:
    body = {
        "msisdn": record["msisdn"],
        "quote_id": check["quote"]["quote_id"],
        "documents": documents(record),
        "refund_route": {"kind": refund},
        "acknowledged_warnings": [w["code"] for w in check["warnings"]],
    }
    key = {"Idempotency-Key": f"nat-cancel-{record['msisdn']}"}
    return server.post("/api/v1/store/cancellations", body, token=clerk, headers=key)


def store_pay(
    server: Served, clerk: str, msisdn: str, amount_fen: int, key: str
) -> httpx2.Response:
    body = {"msisdn": msisdn, "amount_fen": amount_fen, "method": "cash"}
    return server.post(
        "/api/v1/store/payments", body, token=clerk, headers={"Idempotency-Key": key}
    )


def drawer(server: Served, clerk: str, day: str) -> dict[str, Any]:
    r = server.get("/api/v1/store/drawer", params={"date": day}, token=clerk)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def books(server: Served, province: str) -> dict[str, int]:
    """The province's trial balance (checked balanced), as account -> balance."""
    r = server.get("/api/v1/admin/ledger/trial-balance", params={"province_code": province})
    assert r.status_code == 200, r.text
    tb = r.json()
    assert tb["balanced"] is True, tb
    return {a["code"]: a["balance_fen"] for a in tb["accounts"]}


def dues(server: Served, period: str) -> dict[tuple[str, str], int]:
    """(payer, receiver) -> fen of the period, and checked to add up to its total."""
    r = server.get("/api/v1/admin/settlement/dues", params={"period": period})
    assert r.status_code == 200, r.text
    body = r.json()
    out = {(d["from"], d["to"]): d["amount_fen"] for d in body["dues"]}
    assert sum(out.values()) == body["total_fen"], body
    return out


def nodes_up(timeout: float = 60) -> None:
    """Every node's server accepting connections (another test, or other work on this machine,
    may have one stopped for a moment)."""
    for node in NODES:
        port = PORTS[node]
        wait_for(f"node {node}'s server", partial(_reachable, port), bool, timeout)


def set_clock(server: Served, now: str) -> None:
    r = server.put("/api/v1/sandbox/clock", {"now": now})
    assert r.status_code == 200, r.text


def problem(r: httpx2.Response) -> dict[str, Any]:
    """The problem+json body of a refusal (checked to be one)."""
    assert r.headers.get("content-type", "").startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    return body


def today_of(now: str) -> str:
    return dt.datetime.fromisoformat(now).date().isoformat()


__all__ = [
    "NODE_OF",
    "SERVED_KEY",
    "STORES",
    "BrokerProxy",
    "National",
    "Staff",
    "cluster_control_missing",
    "cluster_down",
    "free_port",
    "missing",
    "nat_consumed_deployment",
    "nat_deployment",
    "nat_server",
    "nat_staff",
    "problem",
    "queue_depth",
    "set_clock",
    "today_of",
    "wait_for",
]
