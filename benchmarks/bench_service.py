"""`make bench`: the running service under concurrent load, on SQLite and on PostgreSQL.

What it does, all on 127.0.0.1 and bounded in time (about four minutes):

1. Generates N clean lines (eligible for online cancellation, one owner each) and imports them
   with the real importer into a fresh database per engine (a temporary SQLite file; the
   PostgreSQL database `xiaohu_bench_service`, dropped and created again).
2. Starts the service in processes of its own (uvicorn, production mode with a generated
   secret key) and drives it with `wrk` (one connection per wrk thread):
   - the floor: a no-database FastAPI route served the same way (`trivial_app.py`) and
     `/healthz` (one `SELECT 1`);
   - the cancellation check, `GET /api/v1/lines/{msisdn}/cancellation-check`, each line once;
   - the cancellation itself, `POST /api/v1/cancellations` with the quote that check returned
     (only the POST is timed; a cancellation counts when it answers 201 and is not a replay).
   Bearer tokens are minted with the server's key (`identity.tokens.issue`); the SMS sign-in
   is not part of what is timed.
3. Runs the raw SQL ceiling: `pgbench` with `terminate.sql` (lock, update, audit, outbox and
   refund rows) in the scratch database `xiaohu_bench_pgbench`.
4. Prints one table, writes the "Service" section of docs/benchmarks.md and the chart
   docs/bench-service.png. With --profile, also profiles the check in-process (cProfile and a
   count of SQL statements a request) to show where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lines_data import clean_line, import_lines, recreate_database, settings_for, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "bench-service.png"
PG_SERVER = os.environ.get("XIAOHU_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
SERVICE_DB = "xiaohu_bench_service"
PGBENCH_DB = "xiaohu_bench_pgbench"
PGBENCH_ROWS = 1_000_000
TOKEN_TTL = 3600
console = Console(width=max(150, shutil.get_terminal_size().columns), highlight=False)
err = Console(stderr=True, highlight=False)

# Targets for PostgreSQL on a 2-core machine at 8 clients (issue "Online one-click cancellation").
TARGETS = {"check": "≥ 1,000/s, p99 < 25 ms", "cancel": "≥ 300/s"}
ROWS = [
    ("trivial", "Trivial route (FastAPI, no DB)"),
    ("healthz", "GET /healthz (SELECT 1)"),
    ("check", "Cancellation check (GET)"),
    ("cancel", "Cancellation (POST only)"),
    ("pgbench", "Raw SQL cancellation txn (pgbench)"),
]


@dataclass
class Measure:
    """One timed run: completed operations per second and latency percentiles (ms)."""

    rate: float
    p50: float
    p99: float
    ok: int = 0
    other: int = 0
    errors: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    cpu_app_ms: float | None = None  # service processes' CPU time per operation
    cpu_db_ms: float | None = None  # PostgreSQL backends' CPU time per operation
    load: float = 0.0  # 1-minute load average just before the run

    def cell(self) -> tuple[str, str, str, str]:
        rate = f"{self.rate:,.0f}" + ("+" if self.exhausted else "")
        return rate, f"{self.p50:.1f}", f"{self.p99:.1f}", self.cpu_cell()

    def cpu_cell(self) -> str:
        parts = [f"{v:.2f}" for v in (self.cpu_app_ms, self.cpu_db_ms) if v is not None]
        return " + ".join(parts) if parts else "—"


@dataclass
class EngineRun:
    name: str
    url: str
    results: dict[str, Measure] = field(default_factory=dict)
    import_seconds: float = 0.0
    lines: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- data


def _prefixes(count: int) -> list[str]:
    """Allocated 7-digit mobile blocks spread over provinces, so lines hit several policies."""
    from xiaohu.intake.rules import check_number
    from xiaohu.regions.rules import home_of_prefix

    found: list[str] = []
    for p in range(1390000, 1400000, 97):
        s = str(p)
        if check_number(s + "0000") is None and home_of_prefix(s) is not None:
            found.append(s)
            if len(found) == count:
                break
    return found


def line_records(n: int) -> list[dict[str, Any]]:
    """Clean lines: active, real-name verified, no arrears, no contract, bundle or order, more
    cash than a month's fee (so the final bill is covered and a refund is due); a third carry
    a gift balance (a warning to acknowledge); all have a refund route."""
    per_block = 200
    blocks = _prefixes(max(1, -(-n // per_block)))
    out = []
    for i in range(n):
        block, k = divmod(i, per_block)
        msisdn = f"{blocks[block % len(blocks)]}{(k + per_block * (block // len(blocks))):04d}"
        out.append(clean_line(i, msisdn))
    return out


def fresh_database(engine_name: str, tmp: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    recreate_pg(SERVICE_DB)
    return f"{PG_SERVER}/{SERVICE_DB}"


def recreate_pg(name: str) -> None:
    recreate_database(PG_SERVER, name)


def drop_pg(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def load_lines(url: str, key: str, records: list[dict[str, Any]], tmp: Path) -> list[Any]:
    """Migrate, import through the real importer, and return (line id, msisdn) pairs."""
    from sqlalchemy import select

    from xiaohu.assembly import build_runtime
    from xiaohu.kit.migrate import upgrade
    from xiaohu.lines.models import Line

    runtime = build_runtime(settings_for(url, key))
    upgrade(runtime.engine)
    path = tmp / "lines.jsonl"
    if not path.exists():
        write_jsonl(path, records)
    import_lines(runtime, path)
    with runtime.sessions() as session:
        rows = list(session.execute(select(Line.id, Line.msisdn).order_by(Line.id)))
    runtime.engine.dispose()
    return rows


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_groups(procs: list[subprocess.Popen[bytes]], seconds: float) -> None:
    """SIGTERM to each process's group (started with start_new_session), then SIGKILL to any
    group whose process has not ended within `seconds`."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Service:
    base: str
    ports: list[int]
    pids: list[int]
    logs: list[Any]
    database: str | None = None  # PostgreSQL database whose backends' CPU is counted

    def errors(self) -> str:
        """The server's last logged exception (it logs a traceback for each 500)."""
        texts = []
        for log in self.logs:
            log.seek(0)
            texts.append(log.read().decode(errors="replace"))
        text = "\n".join(t for t in texts if t.strip())
        lines = text.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        if not starts:
            return "\n".join(lines[-20:])
        tail = lines[starts[-1] :]
        return "\n".join([*tail[:3], "  ...", *tail[-12:]])

    def last_error(self) -> str:
        """The exception line of the last traceback, and its DETAIL when the driver gave one."""
        lines = [line.strip() for line in self.errors().splitlines() if line.strip()]
        found = [i for i, line in enumerate(lines) if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        if not found:
            return lines[-1][:300] if lines else "(no log)"
        i = found[-1]
        detail = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("DETAIL") else ""
        return f"{lines[i]} {detail}".strip()[:400]


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc); 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _backends(database: str) -> list[int]:
    """PostgreSQL backend processes serving `database` (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                pids.append(int(entry.name))
    return pids


def cpu_snapshot(pids: list[int], database: str | None) -> tuple[float, dict[int, float]]:
    db = {pid: _cpu_of(pid) for pid in _backends(database)} if database else {}
    return sum(_cpu_of(pid) for pid in pids), db


@contextlib.contextmanager
def server(app: str, workers: int, env: dict[str, str]) -> Iterator[Service]:
    """`workers` uvicorn processes of the app factory, each on its own port, in their own
    process groups; yields once every one answers. wrk spreads its connections evenly over
    them (replay.lua, BENCH_PORTS). Not `uvicorn --workers N`: its shared socket loses
    TCP_NODELAY (Kludex/uvicorn#3149, ~40 ms a keep-alive request) and the first process to
    wake accepts most of a burst of connections."""
    ports = [free_port() for _ in range(workers)]
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    probe = "/api/v1/ping" if "trivial" in app else "/healthz"
    stack = contextlib.ExitStack()
    try:
        for port in ports:
            cmd = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1"]
            cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            log = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env={**os.environ, **env},
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        for proc, port, log in zip(procs, ports, logs, strict=True):
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise SystemExit(f"server exited: {tail}")
                try:
                    url = f"http://127.0.0.1:{port}{probe}"
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start within 60 s")
                time.sleep(0.2)
        yield Service(f"http://127.0.0.1:{ports[0]}", ports, [p.pid for p in procs], logs)
    finally:
        stop_groups(procs, 15)
        stack.close()


def write_requests(path: Path, items: list[tuple[str, str, str, str, str]]) -> Path:
    """method, path, token, body, idempotency key; "-" for none. No tabs inside fields."""
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write("\t".join(item) + "\n")
    return path


def wrk(
    service: Service,
    requests: Path,
    seconds: float,
    connections: int,
    *,
    once: bool = False,
    save: Path | None = None,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_FILE": str(requests),
        "BENCH_THREADS": str(connections),
        "BENCH_ONCE": "1" if once else "0",
        "BENCH_SAVE": str(save) if save else "",
        "BENCH_PORTS": ",".join(str(p) for p in service.ports),
    }
    cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    cmd += ["-s", str(BENCH / "replay.lua"), service.base]
    load = os.getloadavg()[0]
    app0, db0 = cpu_snapshot(service.pids, service.database)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    app1, db1 = cpu_snapshot(service.pids, service.database)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            data["cpu"] = {
                "app": app1 - app0,
                "db": sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
                if service.database
                else None,
                "load": load,
            }
            return data
    raise SystemExit(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")


def measure(data: dict[str, Any], counted: str) -> Measure:
    seconds = data["duration_us"] / 1e6
    lat = data["latency_us"]
    e = data["errors"]
    done = int(data[counted])
    cpu = data.get("cpu") or {}
    per = 1000 / max(1, done)
    return Measure(
        rate=done / seconds,
        p50=lat["p50"] / 1000,
        p99=lat["p99"] / 1000,
        ok=done,
        other=int(data["requests"]) - done,
        errors=e["connect"] + e["read"] + e["write"] + e["timeout"],
        seconds=seconds,
        exhausted=data["exhausted_threads"] > 0,
        cpu_app_ms=cpu["app"] * per if "app" in cpu else None,
        cpu_db_ms=cpu["db"] * per if cpu.get("db") is not None else None,
        load=float(cpu.get("load", 0.0)),
    )


# --------------------------------------------------------------------------- phases


def bench_trivial(args: argparse.Namespace, tmp: Path) -> Measure:
    reqs = write_requests(tmp / "ping.tsv", [("GET", "/api/v1/ping", "-", "-", "-")])
    with server("benchmarks.trivial_app:create_app", args.workers, {}) as svc:
        wrk(svc, reqs, args.warmup, args.connections)
        return measure(wrk(svc, reqs, args.duration, args.connections), "ok")


def bench_engine(
    run: EngineRun, args: argparse.Namespace, records: list[dict[str, Any]], tmp: Path
) -> None:
    from xiaohu.identity.tokens import issue

    key = secrets.token_urlsafe(36)
    url = fresh_database(run.name, tmp)
    run.url = url
    t0 = time.perf_counter()
    rows = load_lines(url, key, records, tmp)
    run.import_seconds = time.perf_counter() - t0
    run.lines = len(rows)
    console.print(f"{run.name}: imported {len(rows):,} lines in {run.import_seconds:.1f} s")
    by_msisdn = {r["msisdn"]: r for r in records}
    now = dt.datetime.now(dt.UTC)
    token = {m: issue(key.encode(), line_id, m, now, TOKEN_TTL) for line_id, m in rows}
    # Shuffled: in import order, all 8 clients would work on the same 200-number block, one
    # province, and queue on that province's audit chain head; real traffic is mixed.
    msisdns = [m for _, m in rows]
    random.Random(2026).shuffle(msisdns)
    warm, main = msisdns[: args.warmup_lines], msisdns[args.warmup_lines :]

    def checks(lines: list[str], name: str) -> Path:
        items = [
            ("GET", f"/api/v1/lines/{m}/cancellation-check", token[m], "-", "-") for m in lines
        ]
        return write_requests(tmp / f"{run.name}-{name}.tsv", items)

    env = {
        "XIAOHU_DATABASE_URL": url,
        "XIAOHU_MODE": "production",
        "XIAOHU_SECRET_KEY": key,
        "XIAOHU_ADMIN_TOKEN": key,
        # Production mode on the sandbox gateways, as a staging system would run it.
        "XIAOHU_ALLOW_SANDBOX_GATEWAYS": "true",
    }
    health = write_requests(tmp / "healthz.tsv", [("GET", "/healthz", "-", "-", "-")])
    with server("xiaohu.app:create_app", args.workers, env) as svc:
        if run.name == "postgres":
            svc.database = SERVICE_DB
        wrk(svc, health, args.warmup, args.connections)
        run.results["healthz"] = measure(wrk(svc, health, args.duration, args.connections), "ok")
        console.print(f"{run.name}: healthz {run.results['healthz'].rate:,.0f}/s")

        wrk(svc, checks(warm, "warm"), args.warmup, args.connections)
        saved = tmp / f"{run.name}-check-"
        data = wrk(
            svc, checks(main, "check"), args.duration, args.connections, once=True, save=saved
        )
        check = measure(data, "ok")
        run.results["check"] = check
        console.print(
            f"{run.name}: check {check.rate:,.0f}/s p99 {check.p99:.1f} ms ({check.other} non-200)"
        )
        if check.other:
            sample = first_body(saved, args.connections, status_not="200")
            err.print(f"{run.name}: a check that did not succeed: {sample[:600]}")
            if sample.startswith("5"):
                run.notes.append(f"{check.other} checks failed: {svc.last_error()}")
        quotes = read_quotes(saved, args.connections, main)
        posts = [cancel_request(m, q, by_msisdn[m], token[m]) for m, q in quotes]
        if not posts:
            run.notes.append("no eligible quote came back from the check: cancellation not run")
            sample = first_body(saved, args.connections)
            err.print(f"{run.name}: no eligible quotes; a check answered: {sample[:600]}")
            return
        n_warm = min(len(posts) // 5, int(args.warmup * 200))
        wrk(
            svc,
            write_requests(tmp / f"{run.name}-pw.tsv", posts[:n_warm]),
            args.warmup,
            args.connections,
            once=True,
        )
        post_file = write_requests(tmp / f"{run.name}-post.tsv", posts[n_warm:])
        data = wrk(svc, post_file, args.duration, args.connections, once=True, save=tmp / "post-")
        cancel = measure(data, "created")
        run.results["cancel"] = cancel
        console.print(
            f"{run.name}: cancellation {cancel.rate:,.0f}/s p99 {cancel.p99:.1f} ms "
            f"({cancel.other} not created, {data['replayed']} replayed)"
        )
        if cancel.other:
            sample = first_body(tmp / "post-", args.connections, status_not="201")
            err.print(f"{run.name}: a cancellation that did not succeed: {sample[:600]}")
            if sample.startswith("5"):
                err.print(svc.errors(), markup=False)
                run.notes.append(f"{cancel.other} cancellations failed: {svc.last_error()}")
    cancelled = count_cancelled(url, key)
    run.notes.append(
        f"{cancelled:,} lines are cancelled in the database after the run; "
        f"{cancel.ok:,} timed POSTs answered 201 (the rest were warm-up)"
    )


def read_quotes(prefix: Path, threads: int, lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The check answers saved by wrk: (msisdn, body) for eligible lines with a quote."""
    out = []
    for k in range(threads):
        path = Path(f"{prefix}{k}.tsv")
        if not path.exists():
            continue
        for raw in path.read_text(encoding="utf-8").splitlines():
            idx, status, body = raw.split("\t", 2)
            if status != "200":
                continue
            doc = json.loads(body)
            if doc.get("eligible") and doc.get("quote"):
                out.append((lines[int(idx)], doc))
    return out


def first_body(prefix: Path, threads: int, status_not: str | None = None) -> str:
    for k in range(threads):
        path = Path(f"{prefix}{k}.tsv")
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                _, status, body = raw.split("\t", 2)
                if status_not is None or status != status_not:
                    return f"{status} {body}"
    return "(nothing saved)"


def cancel_request(
    msisdn: str, check: dict[str, Any], record: dict[str, Any], token: str
) -> tuple[str, str, str, str, str]:
    body = {
        "msisdn": msisdn,
        "quote_id": check["quote"]["quote_id"],
        "real_name": {"name": record["owner"]["name"], "id_number": record["owner"]["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w["code"] for w in check.get("warnings", [])],
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return ("POST", "/api/v1/cancellations", token, text, str(uuid.uuid4()))


def count_cancelled(url: str, key: str) -> int:
    from sqlalchemy import func, select

    from xiaohu.assembly import build_runtime
    from xiaohu.lines.models import Line

    runtime = build_runtime(settings_for(url, key))
    with runtime.sessions() as session:
        n = session.scalar(select(func.count()).where(Line.status == "cancelled"))
    runtime.engine.dispose()
    return int(n or 0)


PGBENCH_SCHEMA = f"""
CREATE TABLE sub (id bigint PRIMARY KEY, msisdn text NOT NULL, status text NOT NULL,
                  version int NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO sub SELECT g, (13800000000 + g)::text, 'active', 1, now()
  FROM generate_series(1, {PGBENCH_ROWS}) g;
CREATE TABLE audit_log (id bigserial PRIMARY KEY, sub_id bigint NOT NULL, action text NOT NULL,
                        payload jsonb NOT NULL, at timestamptz NOT NULL);
CREATE TABLE outbox (id bigserial PRIMARY KEY, aggregate_id bigint NOT NULL,
                     event_type text NOT NULL, payload jsonb NOT NULL,
                     created_at timestamptz NOT NULL, published_at timestamptz);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE TABLE refund (id bigserial PRIMARY KEY, sub_id bigint NOT NULL,
                     amount_cents bigint NOT NULL, idempotency_key text NOT NULL UNIQUE,
                     status text NOT NULL);
VACUUM ANALYZE sub;
"""


def bench_pgbench(args: argparse.Namespace, tmp: Path) -> Measure | None:
    """pgbench over TCP (like the service), 8 clients, 2 threads, per-transaction log."""
    if shutil.which("pgbench") is None or shutil.which("psql") is None:
        err.print("pgbench/psql not found: the raw SQL row is skipped")
        return None
    from sqlalchemy.engine import make_url

    recreate_pg(PGBENCH_DB)
    server_url = make_url(f"{PG_SERVER}/{PGBENCH_DB}")
    conn = ["-h", server_url.host or "127.0.0.1", "-p", str(server_url.port or 5432)]
    conn += ["-U", server_url.username or "postgres"]
    env = {**os.environ}
    if server_url.password:
        env["PGPASSWORD"] = server_url.password
    subprocess.run(
        ["psql", *conn, "-d", PGBENCH_DB, "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=PGBENCH_SCHEMA,
        text=True,
        check=True,
        env=env,
        capture_output=True,
    )
    logs = tmp / "pgbench"
    logs.mkdir(exist_ok=True)
    cmd = ["pgbench", *conn, "-n", "-f", str(BENCH / "terminate.sql")]
    cmd += ["-c", str(args.connections), "-j", "2", "-T", str(args.pgbench_seconds)]
    cmd += ["-l", "--log-prefix", str(logs / "tx"), PGBENCH_DB]
    load = os.getloadavg()[0]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp, text=True
    )
    # The backends exit with pgbench: read their CPU time inside the run, over a window.
    time.sleep(1)
    _, db0 = cpu_snapshot([], PGBENCH_DB)
    t0 = time.time()
    time.sleep(max(1.0, args.pgbench_seconds - 2.5))
    _, db1 = cpu_snapshot([], PGBENCH_DB)
    t1 = time.time()
    stdout, stderr = proc.communicate(timeout=args.pgbench_seconds + 60)
    if proc.returncode:
        raise SystemExit(f"pgbench failed: {stderr}")
    out = argparse.Namespace(stdout=stdout)
    db_cpu = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    latencies = []
    in_window = 0
    for log in logs.glob("tx*"):
        for line in log.read_text().splitlines():
            f = line.split()
            latencies.append(int(f[2]) / 1000)
            in_window += t0 <= int(f[4]) + int(f[5]) / 1e6 <= t1
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return Measure(
        rate=tps,
        p50=q[49],
        p99=q[98],
        ok=len(latencies),
        seconds=args.pgbench_seconds,
        cpu_db_ms=1000 * db_cpu / max(1, in_window),
        load=load,
    )


# --------------------------------------------------------------------------- profile


def profile_check(url: str, key: str, records: list[dict[str, Any]], n: int = 300) -> str:
    """Where the time goes, without HTTP: the routes' work (token check, service call, commit,
    JSON encoding) called in-process on one thread, for the check and for the cancellation.
    Reports ms a request, the share spent inside database calls, SQL statements a request and
    the heaviest functions under cProfile."""
    from sqlalchemy import event, select

    from xiaohu.assembly import build_runtime
    from xiaohu.cancellation import service
    from xiaohu.cancellation.schemas import CancellationRequest
    from xiaohu.identity import tokens
    from xiaohu.kit.db import transaction
    from xiaohu.lines.models import Line

    runtime = build_runtime(settings_for(url, key))
    statements: dict[str, int] = {}
    in_db = [0.0]

    @event.listens_for(runtime.engine, "before_cursor_execute")
    def _before(conn: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        first = " ".join(stmt.split())[:80]
        statements[first] = statements.get(first, 0) + 1
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(runtime.engine, "after_cursor_execute")
    def _after(conn: Any, *_a: Any) -> None:
        in_db[0] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())

    by_msisdn = {r["msisdn"]: r for r in records}
    with runtime.sessions() as session:
        found = session.execute(select(Line.msisdn, Line.id).where(Line.msisdn.in_(by_msisdn)))
        ids = {m: i for m, i in found}
    now = dt.datetime.now(dt.UTC)
    work = [(m, tokens.issue(key.encode(), ids[m], m, now, TOKEN_TTL)) for m in by_msisdn]
    quotes: dict[str, dict[str, Any]] = {}

    def check(msisdn: str, token: str) -> None:
        with transaction(runtime.sessions) as session:
            ctx = runtime.context(session, actor="api:127.0.0.1")
            claims = tokens.verify(runtime.settings.key, token, ctx.now())
            assert claims is not None and claims.msisdn == msisdn
            quotes[msisdn] = json.loads(service.check(ctx, msisdn).model_dump_json())

    def cancel(msisdn: str, token: str) -> None:
        q, owner = quotes[msisdn], by_msisdn[msisdn]["owner"]
        body = CancellationRequest.model_validate(
            {
                "msisdn": msisdn,
                "quote_id": q["quote"]["quote_id"],
                "real_name": {"name": owner["name"], "id_number": owner["id_number"]},
                "acknowledged_warnings": [w["code"] for w in q["warnings"]],
            }
        )
        with transaction(runtime.sessions) as session:
            ctx = runtime.context(session, actor="api:127.0.0.1")
            claims = tokens.verify(runtime.settings.key, token, ctx.now())
            assert claims is not None and claims.msisdn == msisdn
            service.cancel(ctx, msisdn, body).model_dump_json()

    def timed(name: str, fn: Any, items: list[tuple[str, str]]) -> list[str]:
        statements.clear()
        in_db[0] = 0.0
        t0 = time.perf_counter()
        for m, t in items:
            fn(m, t)
        elapsed = time.perf_counter() - t0
        count = max(1, len(items))
        top = sorted(statements.items(), key=lambda kv: -kv[1])[:12]
        return [
            f"{name}: {1000 * elapsed / count:.2f} ms a request, "
            f"{100 * in_db[0] / elapsed:.0f}% of it inside database calls (driver + server), "
            f"{sum(statements.values()) / count:.1f} SQL statements a request:",
            *[f"  {c / count:5.2f}/req  {s}" for s, c in top],
        ]

    for m, t in work[:20]:
        check(m, t)
    a, b, c = work[20 : 20 + n], work[20 + n : 20 + 2 * n], work[20 + 2 * n : 20 + 3 * n]
    report = ["In-process, one thread, no HTTP:"]
    report += timed("check", check, a)
    for m, t in b:
        check(m, t)
    b = [(m, t) for m, t in b if quotes[m]["eligible"]]
    report += timed("cancellation (POST body already parsed)", cancel, b)
    prof = cProfile.Profile()
    prof.enable()
    for m, t in c:
        check(m, t)
    for m, t in c:
        if quotes[m]["eligible"]:
            cancel(m, t)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(r"xiaohu/", 16)
    stats.sort_stats("tottime").print_stats(12)
    runtime.engine.dispose()
    report += [
        "",
        f"cProfile over {len(c)} checks then {len(c)} cancellations (cumulative, xiaohu "
        "functions; then by own time):",
        _trim_pstats(buf.getvalue()),
    ]
    return "\n".join(report)


def _trim_pstats(text: str) -> str:
    keep = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or "Ordered by" in line or "List reduced" in line:
            continue
        line = re.sub(r"\S*/site-packages/", "", line)
        line = re.sub(r"\S*/(src/)?xiaohu/", "xiaohu/", line)
        line = re.sub(r"\S*/lib/python3\.\d+/", "", line)
        keep.append(line)
    return "\n".join(keep)


# --------------------------------------------------------------------------- output


def table(trivial: Measure | None, runs: dict[str, EngineRun], pg: Measure | None) -> Table:
    t = Table(title="xiaohu service benchmark (8 connections, 127.0.0.1)")
    t.add_column("")
    for engine in ("SQLite", "PostgreSQL"):
        t.add_column(f"{engine} req/s", justify="right")
        t.add_column("p50 ms", justify="right")
        t.add_column("p99 ms", justify="right")
        t.add_column("CPU ms/op", justify="right")
    t.add_column("target (PostgreSQL)")
    for key, label in ROWS:
        cells: list[str] = [label]
        for engine in ("sqlite", "postgres"):
            m = result_for(key, engine, trivial, runs, pg)
            cells += list(m.cell()) if m else ["—", "—", "—", "—"]
        cells.append(TARGETS.get(key, ""))
        t.add_row(*cells)
    return t


def result_for(
    key: str, engine: str, trivial: Measure | None, runs: dict[str, EngineRun], pg: Measure | None
) -> Measure | None:
    if key == "trivial":
        return trivial
    if key == "pgbench":
        return pg if engine == "postgres" else None
    run = runs.get(engine)
    return run.results.get(key) if run else None


def markdown_table(trivial: Measure | None, runs: dict[str, EngineRun], pg: Measure | None) -> str:
    head = (
        "| | SQLite req/s | p50 ms | p99 ms | CPU ms/op | PostgreSQL req/s | p50 ms | p99 ms | "
        "CPU ms/op | target (PostgreSQL) |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n"
    )
    body = []
    for key, label in ROWS:
        cells = [label]
        for engine in ("sqlite", "postgres"):
            m = result_for(key, engine, trivial, runs, pg)
            cells += list(m.cell()) if m else ["—", "—", "—", "—"]
        cells.append(TARGETS.get(key, ""))
        body.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(body) + "\n"


def verdict(runs: dict[str, EngineRun]) -> list[str]:
    run = runs.get("postgres")
    if run is None:
        return ["PostgreSQL was not measured: the targets are not judged."]
    out = []
    check, cancel = run.results.get("check"), run.results.get("cancel")
    if check:
        good = check.rate >= 1000 and check.p99 < 25
        out.append(
            f"check: {check.rate:,.0f}/s, p99 {check.p99:.1f} ms — target "
            f"{'met' if good else 'MISSED'} (≥ 1,000/s, p99 < 25 ms){ceiling(check)}"
        )
    if cancel:
        good = cancel.rate >= 300
        out.append(
            f"cancellation: {cancel.rate:,.0f}/s — target {'met' if good else 'MISSED'} "
            f"(≥ 300/s){ceiling(cancel)}"
        )
    return out


def ceiling(m: Measure) -> str:
    """What the CPU cost alone allows on this machine's cores when nothing else runs: a
    load-independent cross-check of a rate measured on a busy machine."""
    cpu = (m.cpu_app_ms or 0) + (m.cpu_db_ms or 0)
    if cpu <= 0:
        return ""
    cores = os.cpu_count() or 1
    return (
        f"; it costs {cpu:.1f} ms of CPU (service + database), so {cores} idle cores "
        f"cannot do more than ~{1000 * cores / cpu:,.0f}/s"
    )


def chart(trivial: Measure | None, runs: dict[str, EngineRun], pg: Measure | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        "trivial\n(no DB)",
        "/healthz\n(SELECT 1)",
        "check\n(GET)",
        "cancel\n(POST)",
        "raw SQL txn\n(pgbench)",
    ]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    width = 0.38
    xs = range(len(ROWS))
    for i, (engine, color) in enumerate((("sqlite", "#7a9cc6"), ("postgres", "#336791"))):
        rates, p99s = [], []
        for key, _ in ROWS:
            m = result_for(key, engine, trivial, runs, pg)
            rates.append(m.rate if m else 0)
            p99s.append(m.p99 if m else 0)
        pos = [x + (i - 0.5) * width for x in xs]
        name = "SQLite" if engine == "sqlite" else "PostgreSQL"
        bars = ax1.bar(pos, rates, width, label=name, color=color)
        ax1.bar_label(bars, labels=[f"{r:,.0f}" if r else "" for r in rates], fontsize=7)
        bars = ax2.bar(pos, p99s, width, label=name, color=color)
        ax2.bar_label(bars, labels=[f"{p:.1f}" if p else "" for p in p99s], fontsize=7)
    targets = (
        (ax1, 1000, "check target 1,000/s", "#c0392b", "--"),
        (ax1, 300, "cancellation target 300/s", "#e67e22", ":"),
        (ax2, 25, "check p99 target 25 ms", "#c0392b", "--"),
    )
    for ax, y, text, color, style in targets:
        ax.axhline(y, color=color, ls=style, lw=1)
        ax.text(2.5, y, text, color=color, fontsize=7, ha="center", va="bottom")
    ax2.set_yscale("log")
    titles = ("throughput (requests or transactions / s)", "p99 latency (ms, log scale)")
    for ax, title in zip((ax1, ax2), titles, strict=True):
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        "xiaohu service under 8 concurrent connections (2 cores, load generator on the same host)",
        fontsize=10,
    )
    fig.tight_layout()
    CHART.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CHART, dpi=110)
    plt.close(fig)


BEGIN, END = "<!-- service:begin -->", "<!-- service:end -->"


def write_doc(section: str) -> None:
    """Replace only the Service section (between its markers); keep everything else."""
    block = f"{BEGIN}\n## Service\n\n{section.strip()}\n{END}\n"
    if not DOC.exists():
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"# Benchmarks\n\n{block}", encoding="utf-8")
        return
    text = DOC.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + block.rstrip("\n") + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOC.write_text(text, encoding="utf-8")


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def tool_versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for cmd in (["wrk", "-v"], ["pgbench", "--version"]):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            first = (out.stdout or out.stderr).strip().splitlines()
            if first:
                parts.append(first[0].split(" Copyright")[0].replace(" [epoll]", ""))
    with contextlib.suppress(Exception):
        from sqlalchemy import create_engine, text

        eng = create_engine(f"{PG_SERVER}/postgres")
        with eng.connect() as conn:
            v = conn.execute(text("SHOW server_version")).scalar()
            sb = conn.execute(text("SHOW shared_buffers")).scalar()
        eng.dispose()
        parts.append(f"PostgreSQL {v} (shared_buffers {sb}, fsync and synchronous_commit on)")
    import sqlite3

    parts.append(f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)")
    return "; ".join(parts)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=24_000, help="clean lines per engine")
    parser.add_argument("--duration", type=float, default=12, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up")
    parser.add_argument("--warmup-lines", type=int, default=1_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile the check and the cancellation in-process (default: when a target is missed)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60,
        help="wait up to this many seconds for the 1-minute load average to fall under 1",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--keep-databases", action="store_true", help=f"keep {SERVICE_DB} and {PGBENCH_DB}"
    )
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        err.print("wrk is needed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`")
        return 2
    settle(args.settle)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    records = line_records(args.lines + args.warmup_lines)
    runs: dict[str, EngineRun] = {}
    profile = ""
    with tempfile.TemporaryDirectory(prefix="xiaohu-bench-") as tmp_name:
        tmp = Path(tmp_name)
        trivial = bench_trivial(args, tmp)
        console.print(f"trivial {trivial.rate:,.0f}/s p99 {trivial.p99:.1f} ms")
        for engine in engines:
            run = EngineRun(engine, "")
            runs[engine] = run
            sub = tmp / engine
            sub.mkdir()
            bench_engine(run, args, records, sub)
        pg = bench_pgbench(args, tmp) if "postgres" in engines else None
        missed = any("MISSED" in v for v in verdict(runs))
        if runs and (args.profile or (args.profile is None and missed)):
            run = runs.get("postgres") or next(iter(runs.values()))
            profile = profile_check_fresh(run.name, args, records, tmp)
        if "postgres" in engines and not args.keep_databases:
            for name in (SERVICE_DB, PGBENCH_DB):
                drop_pg(name)
    elapsed = time.perf_counter() - started
    load_note = machine_load(load_before, trivial, runs, pg)

    console.print(table(trivial, runs, pg))
    console.print(load_note)
    for line in verdict(runs):
        console.print(line)
    for run in runs.values():
        for note in run.notes:
            console.print(f"{run.name}: {note}")
    if profile:
        console.print(profile, markup=False, highlight=False)
    console.print(f"whole run: {elapsed:.0f} s")
    if not args.no_docs:
        try:
            chart(trivial, runs, pg)
        except ImportError:
            err.print("matplotlib is missing (`pip install -e '.[dev]'`): the chart is not redrawn")
        write_doc(doc_section(args, trivial, runs, pg, elapsed, profile, load_note))
        console.print(
            f"wrote {DOC.relative_to(ROOT)} (Service section) and {CHART.relative_to(ROOT)}"
        )
    return 0


def settle(seconds: float) -> None:
    """On a shared machine, wait (bounded) for other work to calm down before measuring."""
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        console.print(f"waiting for a quieter machine (load {os.getloadavg()[0]:.1f})")
        time.sleep(10)


def machine_load(
    before: float, trivial: Measure | None, runs: dict[str, EngineRun], pg: Measure | None
) -> str:
    """The 1-minute load average before the run and before each measurement. The benchmark
    itself brings it to about 2-3 (8 clients, the service, the database): much more means
    other work shared the two cores and the rates are low."""
    parts = [f"start {before:.1f}"]
    if trivial:
        parts.append(f"trivial {trivial.load:.1f}")
    for run in runs.values():
        for key, m in run.results.items():
            parts.append(f"{run.name} {key} {m.load:.1f}")
    if pg:
        parts.append(f"pgbench {pg.load:.1f}")
    return "1-minute load average before each measurement: " + ", ".join(parts)


def profile_check_fresh(
    engine: str, args: argparse.Namespace, records: list[dict[str, Any]], tmp: Path
) -> str:
    """Profile on a fresh database: the benchmarked one has its lines cancelled."""
    key = secrets.token_urlsafe(36)
    sub = tmp / f"profile-{engine}"
    sub.mkdir()
    url = fresh_database(engine, sub)
    subset = records[:1000]
    load_lines(url, key, subset, sub)
    return f"{engine}: " + profile_check(url, key, subset)


def doc_section(
    args: argparse.Namespace,
    trivial: Measure | None,
    runs: dict[str, EngineRun],
    pg: Measure | None,
    elapsed: float,
    profile: str,
    load_note: str,
) -> str:
    today = dt.datetime.now(dt.UTC).astimezone().date().isoformat()
    notes = [f"- {run.name}: {note}" for run in runs.values() for note in run.notes]
    imports = [
        f"- {run.name}: {run.lines:,} lines imported in {run.import_seconds:.1f} s"
        for run in runs.values()
    ]
    return "\n".join(
        [
            "The running service, driven over loopback by `wrk` with "
            f"{args.connections} concurrent connections, next to two limits measured in the "
            "same run: the same framework and server with no database, and the cancellation "
            "transaction in raw SQL (`pgbench`).",
            "",
            markdown_table(trivial, runs, pg),
            "![throughput and p99 latency](bench-service.png)",
            "",
            *[f"- {v}" for v in verdict(runs)],
            "",
            "### How it was measured",
            "",
            f"- Command: `make bench` (= `python benchmarks/bench_service.py`), {today}, whole "
            f"run {elapsed:.0f} s.",
            f"- Machine: {machine()}; the load generator, the service and the database share "
            "it. " + tool_versions() + ".",
            f"- {load_note} (the benchmark alone brings it to about 2-3).",
            f"- Service: {args.workers} uvicorn processes of `xiaohu.app:create_app` (asyncio, "
            "h11), each on its own port, in production mode (system clock, a generated secret "
            "key); wrk spreads its connections evenly over them, as a round-robin load "
            "balancer would. Not `uvicorn --workers N`: its shared socket leaves Nagle's "
            "algorithm on (Kludex/uvicorn#3149), so every keep-alive request after the first "
            "waits ~40 ms for a delayed ACK, and the first process to wake accepts most of a "
            "burst of new connections (7 of 8 here).",
            f"- Load: `wrk` with {args.connections} threads of one connection each "
            "(`benchmarks/replay.lua`), "
            f"{args.warmup:g} s warm-up then {args.duration:g} s timed per row; latency is "
            "per request, from wrk's histogram.",
            f"- Data: {args.lines + args.warmup_lines:,} clean lines per engine (active, "
            "real-name verified, no arrears, contract, bundle or pending order; a third carry "
            "a gift balance, so a warning to acknowledge), imported with the real importer "
            "into a fresh database (a temporary SQLite file; PostgreSQL database "
            f"`{SERVICE_DB}`).",
            *imports,
            "- Bearer tokens are minted with the server's key (`identity.tokens.issue`); the "
            "SMS sign-in is not part of what is timed.",
            "- Lines are taken in a shuffled order, so concurrent requests hit different "
            "provinces as real traffic would (13 provinces here, Guangdong the largest at about "
            "a quarter): a cancellation holds its province's audit chain head until commit.",
            "- Check: each line is checked once (no cache can help). Cancellation: the POST "
            "alone is timed, with the quote, warnings and real name that line's check "
            "returned, a fresh `Idempotency-Key` each; only `201` answers that are not "
            "replays count.",
            f"- Raw SQL: `pgbench -n -f benchmarks/terminate.sql -c {args.connections} -j 2 "
            f"-T {args.pgbench_seconds}` over TCP on {PGBENCH_ROWS:,} rows in `{PGBENCH_DB}` "
            "(row lock, update, audit, outbox and refund insert with a unique key); "
            "percentiles from its per-transaction log.",
            "- CPU ms/op: CPU time the service processes (+ the PostgreSQL backends serving "
            "them) used per completed operation during the timed run, read from /proc. It "
            "hardly depends on what else the machine runs, so it is the number to compare "
            "across runs and with the targets: 2 cores give at most 2,000 ms of CPU a second.",
            "- A `+` after a rate means the prepared lines ran out before the time did: the "
            "rate is a lower bound (raise `--lines`).",
            *notes,
            *(
                [
                    "",
                    "### Where the time goes (in-process profile: check and cancellation)",
                    "",
                    "```",
                    profile.strip()[:6000],
                    "```",
                ]
                if profile
                else []
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
