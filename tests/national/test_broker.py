"""Messages between nodes on a real RabbitMQ and real PostgreSQL servers: the outbox relay
publishes in order and marks a row delivered only once the broker confirmed it; a message
delivered twice is applied once; the broker away → requests commit, messages wait and then
flow in order; a consumer killed mid-stream → nothing lost or applied twice; a node's database
down → its messages wait on the broker and are applied when it is back."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.factories import STAFF_PASSWORD
from tests.national.broker_proxy import TcpProxy
from tests.national.conftest import BROKER_URL, BrokerNodes, broker_runtime
from tests.served.flows import NOW, add_line
from tests.served.harness import Served, server_env, xiaohu_command
from tests.served.staffing import served_token
from xiaohu.identity.passwords import hash_password
from xiaohu.interprovince.dues import CASH_COLLECTED
from xiaohu.interprovince.rules import Message
from xiaohu.interprovince.service import send
from xiaohu.kit.db import transaction
from xiaohu.national.broker import Broker, BrokerUnavailable, queue_name
from xiaohu.national.consumer import Consumer
from xiaohu.national.relay import relay_node
from xiaohu.national.relay_worker import RelayWorker
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Runtime
from xiaohu.sandbox.service import set_clock
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

STORE = GZ = "44-GZ-0101"  # a store of Guangdong (node b): the drawer its messages post to


def send_cash(runtime: Runtime, refs: list[str], to: str = "44") -> list[Message]:
    """Cash taken in at a store of `to` for Jiangsu lines (node a): one business transaction
    on node a writing one message per ref, in order."""
    store = STORE if to == "44" else f"{to}-NN-0101"
    out = []
    with transaction(runtime.sessions_of("a")) as session:
        ctx = runtime.on_node("a").context(session, actor="test")
        for i, ref in enumerate(refs):
            payload = {"store_code": store, "home_province": "32", "amount_fen": 100 + i,
                       "ref": ref, "msisdn_masked": ""}  # fmt: skip
            out.append(send(ctx, to, CASH_COLLECTED, payload, from_province="32"))
    return out


def applied_refs(engine: Engine, prefix: str) -> list[str]:
    """The refs of the journal transactions the messages posted on a node, in posting order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ref FROM journal_transactions WHERE ref LIKE :p ORDER BY id"),
            {"p": f"{prefix}%"},
        )
        return [r[0] for r in rows]


def outbox_rows(runtime: Runtime, refs: list[str]) -> list[Any]:
    """Node a's outbox rows of the messages with these refs, in id order (read, detached)."""
    with runtime.engine_of("a").connect() as conn:
        rows = conn.execute(
            select(
                OutboxMessage.status,
                OutboxMessage.attempts,
                OutboxMessage.last_error,
                OutboxMessage.delivered_at,
                OutboxMessage.payload,
            ).order_by(OutboxMessage.id)
        ).all()
    return [r for r in rows if r.payload.get("payload", {}).get("ref") in refs]


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def queued(namespace: str, province: str) -> list[tuple[str, dict[str, Any]]]:
    """Take every message off a province's queue: (message id, wire form). A consumer, as
    quorum queues with single active consumer refuse `basic.get`."""
    conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        ch = conn.channel()
        out = []
        for method, props, body in ch.consume(queue_name(namespace, province),
                                              inactivity_timeout=1.0):  # fmt: skip
            if method is None:
                return out
            assert props.delivery_mode == 2 and props.content_type == "application/json"
            out.append((props.message_id, json.loads(body)))
            ch.basic_ack(method.delivery_tag)
        return out
    finally:
        conn.close()


@contextmanager
def consuming(runtime: Runtime, provinces: list[str] | None = None) -> Iterator[Consumer]:
    consumer = Consumer(runtime, provinces).start()
    try:
        yield consumer
    finally:
        consumer.stop()


class FailingAt(Broker):
    """The real broker, failing the `n`-th publish as an unreachable broker does."""

    def __init__(self, nodes: Any, n: int) -> None:
        super().__init__(nodes.broker_url, nodes.broker_namespace)
        self.calls, self.n = 0, n

    def publish(self, message: Message) -> None:
        self.calls += 1
        if self.calls == self.n:
            raise BrokerUnavailable("broker unreachable: test")
        super().publish(message)


def test_relay_publishes_in_order_and_marks_delivered_only_once_confirmed(
    broker_map: Path, broker_namespace: str
) -> None:
    runtime = broker_runtime(broker_map)
    refs = [f"order-{i:03d}" for i in range(6)]
    sent = send_cash(runtime, refs)
    from xiaohu.assembly import interprovince_appliers

    failing = FailingAt(runtime.nodes, 4)
    result = relay_node(runtime, "a", failing, interprovince_appliers())
    failing.close()
    assert (result.delivered, result.stopped) == (3, True)
    rows = outbox_rows(runtime, refs)
    assert [r.status for r in rows] == ["delivered"] * 3 + ["pending"] * 3
    assert rows[3].last_error and "unreachable" in rows[3].last_error and rows[3].attempts == 1
    assert all(r.delivered_at is None and r.attempts == 0 for r in rows[4:])
    broker = Broker.of(runtime.nodes)
    result = relay_node(runtime, "a", broker, interprovince_appliers())
    broker.close()
    assert (result.delivered, result.stopped) == (3, False)
    rows = outbox_rows(runtime, refs)
    assert [r.status for r in rows] == ["delivered"] * 6 and rows[3].last_error is None
    got = queued(broker_namespace, "44")
    assert [mid for mid, _ in got] == [m.id for m in sent]
    assert [Message.from_wire(w) for _, w in got] == sent


def test_a_message_for_a_province_of_the_same_node_is_applied_there(
    broker_map: Path, broker_nodes: BrokerNodes, broker_namespace: str
) -> None:
    runtime = broker_runtime(broker_map)
    with transaction(runtime.sessions_of("a")) as session:
        ctx = runtime.on_node("a").context(session, actor="test")
        payload = {"store_code": "11-BJ-0101", "home_province": "32", "amount_fen": 500,
                   "ref": "local-1", "msisdn_masked": ""}  # fmt: skip
        send(ctx, "11", CASH_COLLECTED, payload, from_province="32")
    worker = RelayWorker(runtime, ["a"])
    worker.broker.connect()  # the queues exist: nothing is published to them
    assert worker.drain() == 1
    worker.broker.close()
    assert applied_refs(broker_nodes.engines["a"], "local-") == ["local-1"]
    assert queued(broker_namespace, "11") == []


def test_a_message_delivered_twice_is_applied_once(
    broker_map: Path, broker_nodes: BrokerNodes
) -> None:
    runtime = broker_runtime(broker_map)
    message = send_cash(runtime, ["twice-1"])[0]
    broker = Broker.of(runtime.nodes)
    broker.publish(message)
    broker.publish(message)
    broker.close()
    with consuming(runtime, ["44"]) as consumer:
        wait_until(lambda: consumer.applied + consumer.duplicates == 2, what="both copies")
        assert (consumer.applied, consumer.duplicates) == (1, 1)
    assert applied_refs(broker_nodes.engines["b"], "twice-") == ["twice-1"]


def test_broker_away_requests_commit_and_messages_flow_in_order_when_it_returns(
    broker_nodes: BrokerNodes, broker_namespace: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(("127.0.0.1", 5672))
    proxy.start()
    runtime = broker_runtime(broker_nodes.map_file(tmp_path, broker_namespace, proxy.url))
    relay = RelayWorker(runtime, ["a"], sweep_seconds=0.2).start()
    try:
        send_cash(runtime, ["away-000"])
        wait_until(lambda: outbox_rows(runtime, ["away-000"])[0].status == "delivered",
                   what="the first message published")  # fmt: skip
        proxy.stop()
        refs = [f"away-{i:03d}" for i in range(1, 21)]
        for i in range(0, 20, 5):  # four business transactions while the broker is away
            send_cash(runtime, refs[i : i + 5])
        time.sleep(1.5)
        rows = outbox_rows(runtime, refs)
        assert [r.status for r in rows] == ["pending"] * 20
        assert rows[0].attempts >= 1 and "broker" in (rows[0].last_error or "")
        assert all(r.attempts == 0 for r in rows[1:])  # the batch stops at the first
        proxy.start()
        wait_until(lambda: all(r.status == "delivered" for r in outbox_rows(runtime, refs)),
                   what="the waiting messages published")  # fmt: skip
    finally:
        relay.stop()
        proxy.stop()
    direct = broker_runtime(broker_nodes.map_file(tmp_path, broker_namespace))
    with consuming(direct, ["44"]) as consumer:
        wait_until(lambda: consumer.applied == 21, what="21 applied")
    assert applied_refs(broker_nodes.engines["b"], "away-") == ["away-000", *refs]


def _consume(map_file: Path, log: Path, node: str) -> subprocess.Popen[bytes]:
    env = server_env("sqlite:///unused.db", "sandbox", {"XIAOHU_NODE_MAP": str(map_file)})
    return subprocess.Popen(  # noqa: S603 (our own command)
        [*xiaohu_command(), "consume", "--node", node],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    broker_map: Path, broker_nodes: BrokerNodes, tmp_path: Path
) -> None:
    runtime = broker_runtime(broker_map)
    refs = [f"kill-{i:04d}" for i in range(400)]
    for i in range(0, 400, 50):
        send_cash(runtime, refs[i : i + 50])
    log = tmp_path / "consume.log"
    first = _consume(broker_map, log, "b")
    try:
        relay = RelayWorker(runtime, ["a"])
        relay.drain()
        relay.broker.close()
        engine = broker_nodes.engines["b"]
        wait_until(lambda: len(applied_refs(engine, "kill-")) >= 30, 60, "some applied")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        part = len(applied_refs(engine, "kill-"))
        assert part < 400, "killed too late to be mid-stream"
        second = _consume(broker_map, log, "b")
        try:
            wait_until(lambda: len(applied_refs(engine, "kill-")) == 400, 90, "all applied")
            time.sleep(1)  # nothing more arrives
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert applied_refs(engine, "kill-") == refs
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM interprovince_applied WHERE to_province='44'"))
        assert n.scalar() >= 400


def _cluster(action: str) -> None:
    """Stop (fast: the sessions cut) or start node c's server, Debian's cluster xiaohu3."""
    fast = ["-m", "fast"] if action == "stop" else []
    subprocess.run(["pg_ctlcluster", "15", "xiaohu3", action, *fast], check=True, timeout=60)  # noqa: S603, S607


def test_a_node_down_keeps_its_messages_waiting_until_it_returns(
    broker_map: Path, broker_nodes: BrokerNodes
) -> None:
    runtime = broker_runtime(broker_map)
    refs = [f"down-{i:02d}" for i in range(5)]
    engine = broker_nodes.engines["c"]
    with consuming(runtime, ["45"]) as consumer:
        _cluster("stop")
        try:
            send_cash(runtime, refs, to="45")
            relay = RelayWorker(runtime, ["a"])
            assert relay.drain() == 5  # published: node a and the broker are up
            relay.broker.close()
            time.sleep(3)
            assert consumer.applied == 0
        finally:
            _cluster("start")
        engine.dispose()  # its connections died with the server
        wait_until(lambda: consumer.applied == 5, 60, "applied after the node's return")
    assert applied_refs(engine, "down-") == refs


def test_served_cash_taken_at_a_store_of_another_node_reaches_its_drawer_by_the_broker(
    broker_map: Path, broker_nodes: BrokerNodes, tmp_path: Path
) -> None:
    """`xiaohu serve` on the map: a Guangzhou clerk (Guangdong, node b) takes cash for a
    Jiangsu line (node a). The payment runs on node a; Guangdong's drawer side arrives on
    node b by the broker, and the drawer report (served from node b) shows it."""
    at = dt.datetime.fromisoformat(NOW)
    for name in ("a", "b"):  # reference data is on every node, and each node's test clock
        with Session(broker_nodes.engines[name]) as s, s.begin():
            s.add(Store(code=GZ, name="广州天河营业厅", province_code="44", city="广州",
                        kind="own_flagship", created_at=at, updated_at=at))  # fmt: skip
            s.flush()  # the store before its clerk (a foreign key)
            s.add(StaffMember(id=9501, login="s.gz.broker", name="测试员", role="clerk",
                              province_code="44", store_code=GZ,
                              password_hash=hash_password(STAFF_PASSWORD), failures=0,
                              created_at=at, updated_at=at))  # fmt: skip
            set_clock(s, at)
    clerk = served_token(9501, "s.gz.broker", "clerk", "44", GZ, ttl_seconds=8 * 3600)
    env = server_env(broker_nodes.urls["a"], "sandbox", {"XIAOHU_NODE_MAP": str(broker_map)})
    server = Served(broker_nodes.urls["a"], env, tmp_path)
    server.start()
    try:
        plan = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
        rec = add_line(server, province="32", plan=plan, balance={"cash_fen": 0, "gift_fen": 0})
        m = rec["msisdn"]
        pay = {"msisdn": m, "amount_fen": 5000, "method": "cash"}
        key = {"Idempotency-Key": f"pay-{m}"}
        r = server.post("/api/v1/store/payments", pay, token=clerk, headers=key)
        assert r.status_code == 201, r.text

        def drawer() -> dict[str, Any]:
            r = server.get("/api/v1/store/drawer", params={"date": "2026-11-24"}, token=clerk)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        wait_until(lambda: drawer()["cash_in_fen"] == 5000, 30, "the drawer's side on node b")
        assert drawer()["reconciled"] is True
    finally:
        server.stop()
    kinds = {}
    for name in ("a", "b"):
        with broker_nodes.engines[name].connect() as conn:
            sql = text("SELECT kind FROM journal_transactions WHERE province_code = '44'")
            kinds[name] = set(conn.execute(sql).scalars())
    assert CASH_COLLECTED in kinds["b"] and kinds["a"] == set()  # Guangdong's books: node b


def test_a_malformed_message_is_dropped_counted_and_does_not_stop_its_province(
    broker_map: Path, broker_nodes: BrokerNodes, broker_namespace: str
) -> None:
    runtime = broker_runtime(broker_map)
    broker = Broker.of(runtime.nodes)
    broker.connect()
    broker.close()
    conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        ch = conn.channel()
        for body in (b"not json", b'{"id": "x1", "kind": "k"}'):
            ch.basic_publish(f"{broker_namespace}.interprovince", "44", body)
    finally:
        conn.close()
    relay = RelayWorker(runtime, ["a"])
    send_cash(runtime, ["after-bad-1"])
    relay.drain()
    relay.broker.close()
    with consuming(runtime, ["44"]) as consumer:
        wait_until(lambda: consumer.applied == 1, what="the good message behind the bad ones")
        assert consumer.malformed == 2
    assert applied_refs(broker_nodes.engines["b"], "after-bad-") == ["after-bad-1"]


def test_a_message_the_broker_does_not_take_stays_pending(
    broker_map: Path, broker_namespace: str
) -> None:
    """The broker answers, but no queue is bound for the province (returned as unroutable,
    not confirmed as stored): the row is not marked delivered."""
    runtime = broker_runtime(broker_map)
    send_cash(runtime, ["unroutable-1"])
    from xiaohu.assembly import interprovince_appliers
    from xiaohu.national.broker import delete_topology

    namespace = f"{broker_namespace}-x"
    no_queue = Broker(BROKER_URL, namespace, provinces=["11"])  # Guangdong's queue is missing
    try:
        result = relay_node(runtime, "a", no_queue, interprovince_appliers())
    finally:
        no_queue.close()
        delete_topology(BROKER_URL, namespace, ["11"])
    assert (result.delivered, result.stopped) == (0, True)
    (row,) = outbox_rows(runtime, ["unroutable-1"])
    assert row.status == "pending" and row.delivered_at is None
    assert "not confirmed" in (row.last_error or ""), row.last_error
    with runtime.engine_of("a").begin() as conn:  # not for the next test's relay
        conn.execute(text("DELETE FROM outbox WHERE status = 'pending'"))
