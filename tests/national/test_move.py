"""A province moves to another node on three real PostgreSQL servers: every row of it (lines,
bills, ledger, cancellations, the inbox, the outbox not delivered yet) copied with its ids,
the map switched, the source emptied of it; meanwhile its requests answer 503; afterwards a
served process finds the line on its new node."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.cancellation.support import T0, Api
from tests.factories import line_record
from tests.national import place_support
from tests.national.place_support import Cluster
from tests.served.harness import Served
from xiaohu import nodemap, principals
from xiaohu.app import create_app
from xiaohu.national.move import write_map
from xiaohu.runtime import Runtime

# What a province holds on a node, table by table (the ledger by the province's transactions).
COUNTS = {
    "lines": "SELECT count(*) FROM lines WHERE province_code = '44'",
    "bills": "SELECT count(*) FROM bills WHERE province_code = '44'",
    "cancellations": "SELECT count(*) FROM cancellations WHERE province_code = '44'",
    "journal_entries": "SELECT count(*) FROM journal_entries e JOIN journal_transactions t "
    "ON t.id = e.transaction_id WHERE t.province_code = '44'",
    "audit_events": "SELECT count(*) FROM audit_events WHERE province_code = '44'",
    "inbox": "SELECT count(*) FROM interprovince_applied WHERE to_province = '44'",
    "outbox_waiting": "SELECT count(*) FROM outbox WHERE province_code = '44' "
    "AND delivered_at IS NULL AND topic <> 'interprovince'",
}
IDS = "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM lines"

# The nodes' fixtures (a module of their own, shared by the placement and move tests).
cluster = place_support.cluster
national = place_support.national


def _counts(cluster: Cluster, node: str) -> dict[str, int]:
    return {name: int(cluster.scalar(node, sql) or 0) for name, sql in COUNTS.items()}  # type: ignore[call-overload]


MESSAGES_TO_44 = (
    "SELECT count(*) FROM outbox WHERE topic = 'interprovince' AND province_code = '44'"
)


def _message_to_44(cluster: Cluster, node: str) -> None:
    """A message between provinces that `node` has not sent yet, addressed to 44."""
    with cluster.engines[node].begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (topic, province_code, payload, created_at, attempts, status,"
                " next_attempt_at) VALUES ('interprovince', '44', '{}', :t, 1, 'pending', :later)"
            ),
            {"t": T0, "later": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)},
        )


def _waiting_message(cluster: Cluster) -> None:
    """An inbox row (a message already applied) and an SMS the source has not delivered yet
    (its next try is later), both of province 44; and a message to 44 waiting on the source
    and on the target, each of which stays where it was written (it names its addressee)."""
    with cluster.engines["south"].begin() as conn:
        conn.execute(
            text(
                "INSERT INTO interprovince_applied (message_id, kind, from_province, to_province,"
                " sent_at, applied_at) VALUES (:m, 'due', '11', '44', :t, :t)"
            ),
            {"m": uuid.uuid4().hex, "t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO outbox (topic, province_code, payload, created_at, attempts, status,"
                " next_attempt_at) VALUES ('sms', '44', '{}', :t, 1, 'pending', :later)"
            ),
            {"t": T0, "later": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)},
        )
    _message_to_44(cluster, "south")
    _message_to_44(cluster, "west")


def test_a_moving_province_answers_503_until_the_switch(
    national: Runtime, cluster: Cluster
) -> None:
    canton, beijing = line_record(province="44")["msisdn"], line_record(province="11")["msisdn"]
    with TestClient(create_app(national), raise_server_exceptions=False) as client:
        write_map(cluster.map_path, national.nodes.with_moving(frozenset({"44"})))
        time.sleep(1.2)  # the runtime looks at the file at most once a second
        r = client.get(f"/api/v1/lines/{canton}")
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "NODE_UNAVAILABLE" and "moving" in r.json()["detail"]
        assert r.headers["Retry-After"]
        assert client.get(f"/api/v1/lines/{beijing}").status_code == 401  # served: no token
        write_map(cluster.map_path, national.nodes.with_moving(frozenset()))
        time.sleep(1.2)
        assert client.get(f"/api/v1/lines/{canton}").status_code == 401


def test_a_province_moves_with_its_rows_and_is_served_from_its_new_node(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    bills = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]
    kept = line_record(province="44", unpaid_bills=bills)
    closed = line_record(province="44", balance={"cash_fen": 50000, "gift_fen": 0})
    beijing = line_record(province="11")
    with TestClient(create_app(national)) as client:
        api = Api(client)
        api.set_clock(T0)
        api.import_lines(kept, closed, beijing)
        api.sign_in(closed["msisdn"])
        r = api.cancel(closed, api.check(closed["msisdn"]))
        assert r.status_code in (200, 201), r.text
    _waiting_message(cluster)
    before = _counts(cluster, "south")
    assert all(before.values()), before  # something of every kind to move
    south_ids = cluster.scalar("south", IDS)
    north_before = cluster.scalar("north", IDS)

    done = cluster.xiaohu("node", "move", "--province", "44", "--to", "west", "--settle", "1.1")
    assert "marked as moving" in done.stdout and "map switched" in done.stdout, done.stdout

    assert _counts(cluster, "west") == before
    assert set(_counts(cluster, "south").values()) == {0}
    # The messages to 44 stay with the nodes that wrote them (their relays send them on).
    assert cluster.scalar("south", MESSAGES_TO_44) == cluster.scalar("west", MESSAGES_TO_44) == 1
    assert cluster.scalar("west", IDS) == south_ids  # the ids kept
    assert cluster.scalar("south", "SELECT count(*) FROM owners") == 0  # nobody left there
    assert cluster.scalar("north", IDS) == north_before  # another province untouched
    moved = nodemap.load(cluster.map_path)
    assert moved.node_of("44").name == "west" and not moved.moving

    # A served process on the switched map finds the line on its new node.
    server = Served(cluster.env()["XIAOHU_DATABASE_URL"], cluster.env(), tmp_path)
    try:
        server.start()
        health = server.get("/healthz").json()
        assert health["nodes"] == {"north": "ok", "south": "ok", "west": "ok"}
        line_id = int(
            cluster.scalar("west", "SELECT id FROM lines WHERE msisdn = :m", m=kept["msisdn"])
        )  # type: ignore[arg-type]
        token = principals.issue(national.settings.key, line_id, kept["msisdn"], T0, 1800)
        r = server.get(f"/api/v1/lines/{kept['msisdn']}", token=token)
        assert r.status_code == 200, r.text
        assert r.json()["msisdn"] == kept["msisdn"]
    finally:
        server.stop()

    # Run again: the province is on west already; nothing is left elsewhere to remove.
    again = cluster.xiaohu("node", "move", "--province", "44", "--to", "west", "--settle", "0")
    assert "already" in again.stdout
    assert _counts(cluster, "west") == before
