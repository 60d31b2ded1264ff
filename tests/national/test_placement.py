"""Where data lives on three real PostgreSQL nodes: every node migrated with its id block,
lines on their home province's node, the five-lines-per-ID rule across nodes, reference data
and the sandbox clock on every node, the runs once per node, /healthz with a node down."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import line_record, owner
from tests.national import place_support
from tests.national.place_support import CLUSTER_OF, Cluster
from xiaohu.app import create_app
from xiaohu.intake.importer import import_path
from xiaohu.intake.roster import STORES, import_file
from xiaohu.lifecycle.run import run_lifecycle
from xiaohu.national.idblocks import block_start
from xiaohu.runtime import Runtime

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

# The nodes' fixtures (a module of their own, shared by the placement and move tests).
cluster = place_support.cluster
national = place_support.national


def _file(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "lines.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def _lines(cluster: Cluster, node: str) -> list[tuple[str, str, int]]:
    with cluster.engines[node].connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT msisdn, province_code, id FROM lines ORDER BY msisdn"))
        return [(m, p, int(i)) for m, p, i in rows]


def test_migrate_reports_every_node_and_sets_its_id_block(cluster: Cluster) -> None:
    out = cluster.migrate_output
    for name in ("north", "south", "west"):
        assert f"node {name}: ok at the latest schema" in out, out
    assert "every node (3) is at the latest schema" in out
    # Again: nothing to move, still every node reported.
    again = cluster.xiaohu("migrate").stdout
    assert "sequence(s) moved" not in again and "node west: ok" in again
    for node, block in (("north", 0), ("south", 1), ("west", 2)):
        got = cluster.scalar(node, "SELECT nextval('lines_id_seq')")
        assert isinstance(got, int) and block_start(block) <= got < block_start(block + 1)


def test_an_import_is_split_by_home_province(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    north, south, west = (
        line_record(province="11"),
        line_record(province="44"),
        line_record(province="31"),
    )
    result = import_path(national, _file(tmp_path, north, south, west), workers=1)
    assert result.imported == 3 and not result.errors
    assert set(result.nodes) == {"north", "south", "west"}
    assert [m for m, *_ in _lines(cluster, "north")] == [north["msisdn"]]
    assert [(m, p) for m, p, _ in _lines(cluster, "south")] == [(south["msisdn"], "44")]
    assert [(m, p) for m, p, _ in _lines(cluster, "west")] == [(west["msisdn"], "31")]
    # Ids from each node's block: the rows could move to another node and keep them.
    assert _lines(cluster, "south")[0][2] >= block_start(1)
    assert _lines(cluster, "west")[0][2] >= block_start(2)
    # Each node audited its own share; the ledger of each line on its own node.
    assert cluster.scalar("south", "SELECT count(*) FROM journal_transactions") >= 1
    assert (
        cluster.scalar("north", "SELECT count(*) FROM audit_events WHERE action = 'lines.imported'")
        == 1
    )

    # The sandbox import too, from whichever node the request lands on.
    more = [line_record(province="44"), line_record(province="11")]
    with TestClient(create_app(national)) as client:
        r = client.post("/api/v1/sandbox/lines", json=more)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 2 and set(r.json()["nodes"]) == {"north", "south", "west"}
    assert len(_lines(cluster, "south")) == 2 and len(_lines(cluster, "north")) == 2


def test_five_lines_per_id_counts_every_node(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    person = owner()
    first = [line_record(owner=person, province=p) for p in ("11", "11", "44", "44", "31")]
    assert import_path(national, _file(tmp_path, *first), workers=1).imported == 5
    sixth = line_record(owner=person, province="44")
    result = import_path(national, _file(tmp_path, sixth), workers=1)
    assert result.imported == 0
    assert [(e.line, e.field) for e in result.errors] == [(1, "owner.id_number")]
    # A number the ID already holds (on another node) is not a new line.
    again = import_path(national, _file(tmp_path, first[0], first[4]), workers=1)
    assert again.imported == 2 and again.updated == 2 and not again.errors
    with TestClient(create_app(national)) as client:
        r = client.post("/api/v1/sandbox/lines", json=[line_record(owner=person, province="31")])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "owner.id_number"


def _store(code: str, province: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"store {code}",
        "province_code": province,
        "city": "city",
        "kind": "own_standard",
    }


def test_stores_staff_and_clock_on_every_node(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    path = tmp_path / "stores.jsonl"
    path.write_text(
        "".join(
            json.dumps(_store(c, p)) + "\n" for c, p in (("11-BJ-0001", "11"), ("44-GZ-0001", "44"))
        )
    )
    result = import_file(national, STORES, path)
    assert result.imported == 2 and not result.errors, result.errors
    assert set(result.nodes) == {"north", "south", "west"}
    assert all(said.startswith("ok") for said in result.nodes.values())
    for node in ("north", "south", "west"):
        assert cluster.scalar(node, "SELECT count(*) FROM stores") == 2
    # Again: updated everywhere, nothing twice (a node that was down is repaired this way).
    assert import_file(national, STORES, path).updated == 2
    with TestClient(create_app(national)) as client:
        r = client.post("/api/v1/sandbox/stores", json=[_store("31-SH-0001", "31")])
        assert r.status_code == 200, r.text
        assert set(r.json()["nodes"]) == {"north", "south", "west"}
        staff = {"login": "sh.clerk", "name": "clerk", "role": "clerk", "province_code": "31",
                 "store_code": "31-SH-0001", "password": "a-long-enough-password-1"}  # fmt: skip
        r = client.post("/api/v1/sandbox/staff", json=[staff])
        assert r.status_code == 200, r.text
        r = client.put("/api/v1/sandbox/clock", json={"now": T0.isoformat()})
        assert r.status_code == 200, r.text
    for node in ("north", "south", "west"):
        assert cluster.scalar(node, "SELECT count(*) FROM stores") == 3
        assert cluster.scalar(node, "SELECT login FROM staff") == "sh.clerk"
        assert cluster.scalar(node, "SELECT now FROM sandbox_clock") == T0
    with TestClient(create_app(national)) as client:
        assert client.delete("/api/v1/sandbox/clock").status_code == 200
    for node in ("north", "south", "west"):
        assert cluster.scalar(node, "SELECT count(*) FROM sandbox_clock") == 0


def test_runs_once_per_node_totals_added(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    records = [line_record(province=p) for p in ("11", "44", "44", "31")]
    assert import_path(national, _file(tmp_path, *records), workers=1).imported == 4
    with TestClient(create_app(national)) as client:
        assert client.put("/api/v1/sandbox/clock", json={"now": T0.isoformat()}).status_code == 200
        report = run_lifecycle(national, T0.date(), show_progress=False)
        assert set(report["nodes"]) == {"north", "south", "west"}
        for key in ("suspended", "warned"):
            if key in report:
                assert report[key] == sum(r[key] for r in report["nodes"].values())
        for node in ("north", "south", "west"):
            done = cluster.scalar(node, "SELECT count(*) FROM job_runs WHERE job = 'lifecycle'")
            assert done == 1, node
        r = client.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-10"})
        assert r.status_code == 200, r.text
        assert set(r.json()["nodes"]) == {"north", "south", "west"}
    for node in ("north", "south", "west"):
        assert cluster.scalar(node, "SELECT count(*) FROM job_runs WHERE job = 'close-cycle'") == 1


def _pg_ctl(action: str, cluster_name: str) -> None:
    subprocess.run(  # noqa: S603 (Debian's cluster tool, fixed arguments)
        [  # noqa: S607
            "pg_ctlcluster",
            "15",
            cluster_name,
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        timeout=60,
    )


def test_healthz_names_each_node_and_degrades_with_one_down(
    national: Runtime, cluster: Cluster
) -> None:
    app = create_app(national)
    with TestClient(app) as client:
        r = client.get("/healthz")
        assert r.status_code == 200, r.text
        assert r.json()["nodes"] == {"north": "ok", "south": "ok", "west": "ok"}
        assert r.json()["status"] == "ok" and r.json()["database"] == "ok"
        _pg_ctl("stop", CLUSTER_OF["west"])
        try:
            r = client.get("/healthz")
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["status"] == "degraded"
            assert body["nodes"] == {"north": "ok", "south": "ok", "west": "unreachable"}
            assert body["database"] == "ok"  # the default node holds what is national
        finally:
            _pg_ctl("start", CLUSTER_OF["west"])
        deadline = time.monotonic() + 30
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "west did not come back"
            time.sleep(0.5)


def test_the_scheduler_ticks_every_node(
    national: Runtime, cluster: Cluster, tmp_path: Path
) -> None:
    from xiaohu.lifecycle.scheduler import tick

    records = [line_record(province=p) for p in ("11", "44", "31")]
    assert import_path(national, _file(tmp_path, *records), workers=1).imported == 3
    with TestClient(create_app(national)) as client:
        assert client.put("/api/v1/sandbox/clock", json={"now": T0.isoformat()}).status_code == 200
    said: list[str] = []
    reports = tick(national, show_progress=False, emit=said.append)
    assert {r["node"] for r in reports} == {"north", "south", "west"}, said
    assert all(line.startswith(("[north]", "[south]", "[west]")) for line in said)
    for node in ("north", "south", "west"):
        assert cluster.scalar(node, "SELECT count(*) FROM job_runs WHERE job = 'lifecycle'") == 1
