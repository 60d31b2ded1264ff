"""The work that spans nodes, on three real PostgreSQL servers (README, "Across nodes").

Node n1 (5432, the default node) holds Beijing (11), n2 (5433) Guangdong (44), n3 (5434) every
other province. Each test writes what it needs straight into the node that holds it, committed,
and empties every node afterwards. Messages between provinces are applied in the test with
`interprovince.service.receive` on the node of the receiving province, as the broker's consumer
would (the relay itself is the broker's tests').
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from tests.conftest import test_settings
from tests.factories import line_record, load, owner
from tests.national.place_support import map_toml
from tests.served.harness import SERVED_KEY, Served, server_env
from xiaohu import principals as tokens
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime, interprovince_appliers
from xiaohu.cancellation.models import Cancellation
from xiaohu.interprovince.rules import TOPIC, Message
from xiaohu.interprovince.service import receive
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import make_engine, transaction
from xiaohu.kit.ids import new_id
from xiaohu.kit.migrate import upgrade
from xiaohu.kit.scatter import gather
from xiaohu.ledger.rules import credit, debit
from xiaohu.ledger.service import post, trial_balance
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Context, Runtime
from xiaohu.settlement import service as settlement
from xiaohu.settlement.models import Settlement
from xiaohu.workorders.models import WorkOrder

SERVER = "postgresql+psycopg://postgres@127.0.0.1:{port}/{db}"
NODES = {"n1": (5432, ["11"]), "n2": (5433, ["44"]), "n3": (5434, ["*"])}
DEAD = "postgresql+psycopg://postgres@127.0.0.1:5439/nothing"  # no server listens there
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
OCTOBER = dt.datetime(2026, 10, 15, 12, 0, tzinfo=dt.UTC)


def _admin(port: int) -> Engine:
    return make_engine(SERVER.format(port=port, db="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="module")
def node_urls() -> Iterator[dict[str, str]]:
    """A fresh migrated database per node (`xiaohu_s_<node>_<pid>`), dropped at the end."""
    urls: dict[str, str] = {}
    try:
        for name, (port, _) in NODES.items():
            db = f"xiaohu_s_{name}_{os.getpid()}"
            with _admin(port).connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
                conn.execute(text(f'CREATE DATABASE "{db}"'))
            urls[name] = SERVER.format(port=port, db=db)
            engine = make_engine(urls[name])
            upgrade(engine)
            engine.dispose()
    except OperationalError as exc:
        pytest.skip(f"the node servers (make pg-nodes) are not running: {exc}")
    yield urls
    for name, url in urls.items():
        db = url.rsplit("/", 1)[1]
        with _admin(NODES[name][0]).connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


def write_map(folder: Path, urls: dict[str, str]) -> Path:
    held = {name: provinces for name, (_, provinces) in NODES.items()}
    path = folder / "nodes.toml"
    path.write_text(map_toml(urls, held, default="n1", namespace="xiaohu_s"), encoding="utf-8")
    return path


def national_runtime(urls: dict[str, str], folder: Path, **settings_: Any) -> Runtime:
    settings = test_settings(urls["n1"], node_map=write_map(folder, urls), **settings_)
    runtime = build_runtime(settings)
    assert runtime.nodes.national and runtime.node == "n1"
    return runtime


@pytest.fixture()
def national(node_urls: dict[str, str], tmp_path: Path) -> Iterator[Runtime]:
    runtime = national_runtime(node_urls, tmp_path)
    try:
        yield runtime
    finally:
        from xiaohu.models import metadata

        names = ", ".join(
            f'"{t.name}"' for t in metadata.sorted_tables if t.name != "ledger_accounts"
        )
        for node in runtime.nodes.names():
            _empty(runtime.engine_of(node), names)
            runtime.engine_of(node).dispose()


def _empty(engine: Engine, tables: str) -> None:
    """Empty the node's tables; a few tries (these servers are shared with the fault tests,
    which stop and start one now and then)."""
    for attempt in range(10):
        try:
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            if attempt == 9:
                raise
            time.sleep(1)


@pytest.fixture()
def down(node_urls: dict[str, str], tmp_path: Path, national: Runtime) -> Runtime:
    """The same deployment seen by a process that cannot reach n3."""
    folder = tmp_path / "down"
    folder.mkdir()
    return national_runtime({**node_urls, "n3": DEAD}, folder)


@contextmanager
def on(runtime: Runtime, node: str) -> Iterator[Context]:
    with transaction(runtime.sessions_of(node)) as session:
        yield Context(runtime.on_node(node), session, FrozenClock(NOW), actor="test")


def load_lines(runtime: Runtime, *records: dict[str, Any]) -> dict[str, int]:
    """Each record imported on the node of its home province; number -> line id."""
    ids: dict[str, int] = {}
    for rec in records:
        with on(runtime, runtime.node_of(rec["_province"])) as ctx:
            (line,) = load(ctx, {k: v for k, v in rec.items() if k != "_province"})
            ids[rec["msisdn"]] = line.id
    return ids


def record(province: str, **kw: Any) -> dict[str, Any]:
    return {**line_record(province=province, **kw), "_province": province}


def line_token(runtime: Runtime, msisdn: str, line_id: int) -> str:
    now = dt.datetime.now(dt.UTC)
    return tokens.issue(runtime.settings.key, line_id, msisdn, now, 1800)


def cancel_row(runtime: Runtime, msisdn: str, line_id: int, province: str) -> None:
    """A standing cancellation of the number on its home node (what the check looks for)."""
    with on(runtime, runtime.node_of(province)) as ctx:
        ctx.session.add(
            Cancellation(
                id=new_id(), reference=f"R{new_id()[:20]}", line_id=line_id, msisdn=msisdn,
                province_code=province, handling_province_code=province, channel="online",
                status="cancelled", account_status="settling", quote_id=None,
                cancelled_at=NOW, undo_until=NOW, period="2026-11", final_charges=[],
                charges_fen=0, refund_now_fen=0, reserve_fen=0, forfeited_fen=0, route={},
            )
        )  # fmt: skip


# --- the scatter helper ------------------------------------------------------------------


def test_gather_keeps_the_order_and_names_the_nodes_that_failed_or_were_late() -> None:
    def read(name: str) -> str:
        if name == "b":
            raise OSError("connection refused")
        if name == "c":
            time.sleep(1.0)
        return name.upper()

    started = time.monotonic()
    found = gather(["d", "c", "b", "a"], read, timeout=0.3, here="a", read_here=lambda: "mine")
    assert time.monotonic() - started < 0.9  # a late node does not hold the answer up
    assert list(found.answers.items()) == [("d", "D"), ("a", "mine")]
    assert found.missing == ["c", "b"] and not found.complete


# --- the ID lookup -----------------------------------------------------------------------


def test_id_lookup_gathers_the_owners_lines_from_every_node(national: Runtime) -> None:
    me = owner()
    bj, gd, sc = record("11", owner=me), record("44", owner=me), record("51", owner=me)
    stranger = record("44")
    ids = load_lines(national, bj, gd, sc, stranger)
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {line_token(national, gd['msisdn'], ids[gd['msisdn']])}"}
        body = {"name": me["name"], "id_number": me["id_number"]}
        r = client.post("/api/v1/id-lookup", json=body, headers=auth)
    assert r.status_code == 200, r.text
    got = [(x["home_province"], x["msisdn_masked"]) for x in r.json()["lines"]]
    masked = [(r["_province"], r["msisdn"][:3] + "****" + r["msisdn"][-4:]) for r in (bj, gd, sc)]
    assert got == masked  # by province, as with one node


def test_id_lookup_is_503_when_a_node_does_not_answer(national: Runtime, down: Runtime) -> None:
    me = owner()
    bj, gd = record("11", owner=me), record("44", owner=me)
    ids = load_lines(national, bj, gd)
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {line_token(down, bj['msisdn'], ids[bj['msisdn']])}"}
        body = {"name": me["name"], "id_number": me["id_number"]}
        r = client.post("/api/v1/id-lookup", json=body, headers=auth)
    assert r.status_code == 503, r.text
    problem = r.json()
    assert problem["code"] == "NODE_UNAVAILABLE" and problem["nodes_unavailable"] == ["n3"]
    assert "51" in problem["provinces_unavailable"] and "11" not in problem["provinces_unavailable"]
    assert r.headers["Retry-After"]


# --- the recycled-number check -----------------------------------------------------------


def _platform(client: TestClient) -> str:
    r = client.post("/api/v1/sandbox/platforms", json={"name": "某银行"})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def test_recycled_check_asks_each_number_of_its_home_node_in_request_order(
    national: Runtime,
) -> None:
    recs = [record("44"), record("11"), record("51"), record("44")]
    ids = load_lines(national, *recs)
    for rec in recs[:3]:
        cancel_row(national, rec["msisdn"], ids[rec["msisdn"]], rec["_province"])
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        key = _platform(client)
        queries = [{"msisdn": r["msisdn"], "bound_since": "2026-01-01"} for r in recs]
        queries.append({"msisdn": recs[0]["msisdn"], "bound_since": "2026-12-01"})
        r = client.post(
            "/api/v1/platform/recycled-checks",
            json={"queries": queries},
            headers={"X-Api-Key": key},
        )
    assert r.status_code == 200, r.text
    assert [x["msisdn"] for x in r.json()["results"]] == [q["msisdn"] for q in queries]
    assert [x["changed"] for x in r.json()["results"]] == [True, True, True, False, False]
    with national.sessions_of("n2")() as s:  # platforms are national: only the default node
        assert s.scalar(text("SELECT count(*) FROM platforms")) == 0


def test_recycled_check_needs_only_the_nodes_of_its_numbers(
    national: Runtime, down: Runtime
) -> None:
    bj, sc = record("11"), record("51")
    load_lines(national, bj, sc)
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        key = _platform(client)
        path, headers = "/api/v1/platform/recycled-checks", {"X-Api-Key": key}
        q = {"msisdn": bj["msisdn"], "bound_since": "2026-01-01"}
        r = client.post(path, json={"queries": [q]}, headers=headers)
        assert r.status_code == 200 and r.json()["results"][0]["changed"] is False, r.text
        q2 = {"msisdn": sc["msisdn"], "bound_since": "2026-01-01"}
        r = client.post(path, json={"queries": [q, q2]}, headers=headers)
    assert r.status_code == 503 and r.json()["code"] == "NODE_UNAVAILABLE", r.text
    assert r.json()["nodes_unavailable"] == ["n3"]


# --- dues and the monthly settlement -----------------------------------------------------


def _due(runtime: Runtime, payer: str, receiver: str, amount: int) -> None:
    """Both halves of a due, each in its province's books on its node (as the messages of
    `interprovince.dues` leave them): P owes H `amount`."""
    with on(runtime, runtime.node_of(payer)) as ctx:
        legs = [
            debit(f"subscriber_cash:{payer}", amount),
            credit(f"due_to:{payer}:{receiver}", amount),
        ]
        post(ctx.session, "interprovince.cash_refund", legs, at=OCTOBER, province_code=payer)
    with on(runtime, runtime.node_of(receiver)) as ctx:
        drawer = f"store_drawer:{receiver}-XX-0001"
        legs = [debit(f"due_from:{receiver}:{payer}", amount), credit(drawer, amount)]
        post(ctx.session, "interprovince.cash_refund", legs, at=OCTOBER, province_code=receiver)


def _deliver(runtime: Runtime) -> int:
    """Apply the default node's pending interprovince outbox rows on each receiving province's
    node, twice over (a redelivery): each applies once. How many were applied."""
    with runtime.sessions_of("n1")() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == TOPIC).order_by(OutboxMessage.id)
        ).all()
        wires = [row.payload for row in rows]
    applied = 0
    for _ in range(2):
        for wire in wires:
            message = Message.from_wire(wire)
            node = runtime.node_of(message.to_province)
            with transaction(runtime.sessions_of(node)) as session:
                applied += receive(session, interprovince_appliers(), message, NOW)
    return applied


def test_dues_are_gathered_and_each_clearing_is_posted_once_on_its_provinces_node(
    national: Runtime,
) -> None:
    _due(national, "11", "44", 10_000)
    _due(national, "44", "51", 3_000)
    _due(national, "51", "11", 500)
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/admin/settlement/dues", params={"period": "2026-10"})
    assert r.status_code == 200, r.text
    assert r.json()["dues"] == [
        {"from": "11", "to": "44", "amount_fen": 10_000},
        {"from": "44", "to": "51", "amount_fen": 3_000},
        {"from": "51", "to": "11", "amount_fen": 500},
    ]
    with on(national, "n3") as ctx:  # a run that landed elsewhere settles on the default node
        result = settlement.settle(ctx, "2026-10")
    assert result["gross_fen"] == 13_500
    for node in ("n2", "n3"):  # the record is national: on the default node only
        with national.sessions_of(node)() as s:
            assert s.get(Settlement, "2026-10") is None
    assert _cleared(national) == {"n1": 0, "n2": 0, "n3": 0}  # not before the messages
    assert _deliver(national) == 3  # 11, 44, 51: once each, the redelivery changes nothing
    assert _cleared(national) == {"n1": 1, "n2": 1, "n3": 1}
    for node in national.nodes.names():
        with national.sessions_of(node)() as s:
            assert trial_balance(s)["balanced"]
    with on(national, "n1") as ctx:  # the statement's view is read on the province's node
        view = settlement.ledger_view(ctx, "2026-10", "44")
        again = settlement.settle(ctx, "2026-10")
    assert view["cleared_payable_fen"] == 3_000 and view["cleared_receivable_fen"] == 10_000
    assert view["settlement_bank_fen"] == 7_000
    assert again == result and _deliver(national) == 0  # a settled period sends nothing new
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/admin/settlement/2026-10/statements/51.pdf")  # runs on n3
    # The record read on the default node, the books on n3 (a 500 only without the CJK font).
    assert r.status_code == 200 or "font" in r.text.lower(), r.text


def _cleared(runtime: Runtime) -> dict[str, int]:
    out = {}
    for node in runtime.nodes.names():
        with runtime.sessions_of(node)() as s:
            sql = "SELECT count(*) FROM journal_transactions WHERE kind = 'settlement.clear'"
            out[node] = int(s.scalar(text(sql)) or 0)
    return out


# --- work orders, the trial balance, the audit verification ------------------------------


def _order(runtime: Runtime, rec: dict[str, Any], line_id: int, due: dt.datetime) -> str:
    order_id = new_id()
    with on(runtime, runtime.node_of(rec["_province"])) as ctx:
        ctx.session.add(
            WorkOrder(
                id=order_id, kind="fraud_stop", reasons=["fraud_stop"], cancellation_id=new_id(),
                line_id=line_id, msisdn=rec["msisdn"], home_province=rec["_province"],
                handling_province=rec["_province"], store_code="11-BJ-0001", staff_login="c1",
                request={}, opened_at=NOW, due_at=due, status="open", decided_at=None,
                decided_by=None, decision_reason=None, overdue_notified_at=None,
            )
        )  # fmt: skip
    return order_id


def _staff_token(runtime: Runtime, role: str, province: str) -> dict[str, str]:
    token = tokens.issue_staff(
        runtime.settings.key, staff_id=1, login=f"{role}.{province}", role=role,
        province_code=province, store_code=None, now=dt.datetime.now(dt.UTC), ttl_seconds=600,
    )  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_lists_every_nodes_work_orders_a_back_office_its_own(national: Runtime) -> None:
    recs = [record("44"), record("11"), record("51")]
    ids = load_lines(national, *recs)
    later = [_order(national, r, ids[r["msisdn"]], NOW + dt.timedelta(days=3 - i))
             for i, r in enumerate(recs)]  # fmt: skip
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/workorders", headers=_staff_token(national, "admin", "11"))
        assert r.status_code == 200, r.text
        assert [o["id"] for o in r.json()["work_orders"]] == later[::-1]  # by deadline
        admin = _staff_token(national, "admin", "11")
        r = client.get(f"/api/v1/workorders/{later[0]}", headers=admin)  # on n2, not n1
        assert r.status_code == 200 and r.json()["home_province"] == "44", r.text
        r = client.get("/api/v1/workorders", headers=_staff_token(national, "backoffice", "44"))
    assert r.status_code == 200, r.text
    assert [o["id"] for o in r.json()["work_orders"]] == [later[0]]


def test_trial_balance_and_audit_verify_are_every_nodes(national: Runtime, down: Runtime) -> None:
    _due(national, "11", "44", 2_000)
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        tb = client.get("/api/v1/admin/ledger/trial-balance").json()
        one = client.get("/api/v1/admin/ledger/trial-balance", params={"province_code": "44"})
        audit = client.get("/api/v1/admin/audit/verify").json()
    assert tb["balanced"] and set(tb["nodes"]) == {"n1", "n2", "n3"}
    assert (
        tb["debits_fen"]
        == 4_000
        == tb["nodes"]["n1"]["debits_fen"] + tb["nodes"]["n2"]["debits_fen"]
    )
    codes = {a["code"] for a in tb["accounts"]}
    assert {"due_to:11:44", "due_from:44:11"} <= codes
    assert (
        one.status_code == 200 and "nodes" not in one.json() and one.json()["debits_fen"] == 2_000
    )
    assert audit["intact"] and set(audit["nodes"]) == {"n1", "n2", "n3"}
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/admin/ledger/trial-balance")
        assert r.status_code == 503 and r.json()["nodes_unavailable"] == ["n3"], r.text
        r = client.get("/api/v1/admin/audit/verify")
        assert r.status_code == 503 and r.json()["code"] == "NODE_UNAVAILABLE", r.text


# --- over HTTP, a served process ----------------------------------------------------------


def test_served_id_lookup_and_recycled_check_across_nodes(
    national: Runtime, node_urls: dict[str, str], tmp_path: Path
) -> None:
    # The served process's key: the rows are written with it (blind indexes, tokens).
    folder = tmp_path / "served"
    folder.mkdir()
    national = national_runtime(node_urls, folder, secret_key=SERVED_KEY)
    me = owner()
    bj, gd, sc = record("11", owner=me), record("44", owner=me), record("51")
    ids = load_lines(national, bj, gd, sc)
    cancel_row(national, sc["msisdn"], ids[sc["msisdn"]], "51")
    node_map = national.nodes.source
    assert node_map is not None
    with tempfile.TemporaryDirectory(prefix="xiaohu-served-") as tmp:
        url = national.nodes.node("n1").database_url
        env = server_env(url, "sandbox", {"XIAOHU_NODE_MAP": str(node_map)})
        server = Served(url, env, Path(tmp))
        try:
            server.start()
            token = line_token(national, gd["msisdn"], ids[gd["msisdn"]])
            body = {"name": me["name"], "id_number": me["id_number"]}
            r = server.post("/api/v1/id-lookup", body, token=token)
            assert r.status_code == 200, r.text + server.log()[-2000:]
            assert [x["home_province"] for x in r.json()["lines"]] == ["11", "44"]
            r = server.post("/api/v1/sandbox/platforms", {"name": "某支付"})
            assert r.status_code == 201, r.text
            queries = [{"msisdn": x["msisdn"], "bound_since": "2026-01-01"} for x in (sc, bj, gd)]
            r = server.post(
                "/api/v1/platform/recycled-checks",
                {"queries": queries},
                headers={"X-Api-Key": r.json()["api_key"]},
            )
            assert r.status_code == 200, r.text
            assert [x["changed"] for x in r.json()["results"]] == [True, False, False]
        finally:
            server.stop()
