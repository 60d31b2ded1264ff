"""`make bench-national`: the same work on 1, 2 and 3 nodes (PostgreSQL servers on this machine).

For each node count, all on 127.0.0.1 and bounded in time (about 80 s a count, then 20 s for
the storage):

1. The provinces are placed on the nodes (largest first on the lightest node), a fresh
   database is made on each node's server (`xiaohu_bench_n1..3` on ports 5432..5434, `make
   pg-nodes`), `xiaohu migrate` runs with the node map, the lines are imported into their
   home node with the real importer, and a store with a clerk goes into every province on
   every node.
2. `xiaohu serve` runs with the node map in production mode on the sandbox gateways (two
   processes by default, the same for every node count: app processes are stateless and hold
   an engine per node), and the broker namespace of this benchmark.
3. Clients (threads, one kept-alive connection each) drive the four kinds of work of
   `national_load` one kind at a time, then all four mixed; each phase is timed alone and its
   CPU read from /proc (`national_cpu`): the app processes, each node's backends, the broker.
4. Once every message between provinces has been applied, their latency is read from the
   receiving side's inbox: `interprovince_applied.applied_at - sent_at`, both taken by the
   application's clock (the sender's in its transaction, the receiver's when it applies).
5. The storage a line takes (`national_storage`): realistic demo lines imported, then a
   monthly close-cycle, the database's size read before and after each.
6. A table, the "National" section of docs/benchmarks.md, the chart docs/bench-national.png,
   and the figures as JSON (var/bench-national.json; `--report-only` redraws from it).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import random
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench_service import free_port, stop_groups
from national_cpu import CpuMeter
from national_data import (
    Layout,
    home,
    layout,
    line_records,
    prepare,
    server_env,
    store_province_for,
    wait_for_servers,
    xiaohu_command,
)
from national_load import KINDS, Tally, Work, drive
from national_report import console, percentile, report
from national_storage import measure as measure_storage

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "bench-national.json"
TOKEN_TTL = 4 * 3600


@contextlib.contextmanager
def served(env: dict[str, str], count: int, logdir: Path) -> Iterator[tuple[list[str], list[int]]]:
    """`count` `xiaohu serve` processes, each on its own port and in its own process group."""
    ports = [free_port() for _ in range(count)]
    procs = []
    try:
        for port in ports:
            log = (logdir / f"serve-{port}.log").open("ab")
            cmd = [*xiaohu_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + 90
        for proc, port in zip(procs, ports, strict=True):
            while True:
                if proc.poll() is not None:
                    tail = (logdir / f"serve-{port}.log").read_text(errors="replace")[-3000:]
                    raise SystemExit(f"xiaohu serve exited:\n{tail}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("xiaohu serve did not answer in 90 s") from None
                    time.sleep(0.3)
        yield [f"http://127.0.0.1:{p}" for p in ports], [p.pid for p in procs]
    finally:
        stop_groups(procs, 20)


def work_for(lay: Layout, loaded: Any, key: str, records: list[dict[str, Any]]) -> Work:
    """Pools of lines, shuffled so concurrent clients hit different provinces: 40 % for
    online cancellations, 30 % for cancellations at a counter, the rest checked and paid."""
    from national_data import clerk_tokens, line_tokens

    msisdns = [r["msisdn"] for r in records]
    random.Random(2026).shuffle(msisdns)
    a, b = int(len(msisdns) * 0.4), int(len(msisdns) * 0.7)
    rest = msisdns[b:]
    return Work(
        check=rest,
        pay=rest,
        cancel=collections.deque(msisdns[:a]),
        cash_out=collections.deque(msisdns[a:b]),
        line_token=line_tokens(key, loaded, TOKEN_TTL),
        clerk_token=clerk_tokens(key, TOKEN_TTL),
        store_of={m: store_province_for(lay, home(m), i) for i, m in enumerate(msisdns)},
        record=loaded.record,
    )


def timed(
    name: str,
    label: str,
    bases: list[str],
    work: Work,
    mix: dict[str, float],
    args: argparse.Namespace,
    meter: CpuMeter,
    seconds: float,
) -> dict[str, Any]:
    """One timed phase with its progress lines and its CPU."""
    tally = Tally()
    running = threading.Event()
    running.set()

    def progress() -> None:
        t0 = time.monotonic()
        shown = t0
        while running.is_set():
            time.sleep(0.5)
            meter.sample()
            if time.monotonic() - shown >= 3 and running.is_set():
                shown = time.monotonic()
                el = shown - t0
                failed = sum(tally.failed.values())
                console.print(
                    f"  {label} {name}: {el:4.0f}/{seconds:.0f} s  {tally.done():6,} ops  "
                    f"{tally.done() / el:7,.0f}/s  failed {failed}"
                )

    meter.start()
    watcher = threading.Thread(target=progress, daemon=True)
    watcher.start()
    started = time.time()
    elapsed = drive(bases, work, mix, args.clients, seconds, tally, seed=sum(map(ord, name)))
    running.clear()
    watcher.join()
    usage = meter.stop(elapsed)
    done = tally.done()
    every = [x for v in tally.latency.values() for x in v]
    out = {
        "phase": name,
        "started": started,
        "seconds": elapsed,
        "ops": done,
        "rate": done / elapsed,
        "failed": dict(tally.failed),
        "exhausted": sorted(tally.exhausted),
        "sample_failure": tally.sample_failure,
        "p50_ms": percentile(every, 50) * 1000,
        "p99_ms": percentile(every, 99) * 1000,
        "by_kind": {
            k: {
                "ops": len(v),
                "p50_ms": percentile(v, 50) * 1000,
                "p99_ms": percentile(v, 99) * 1000,
            }
            for k, v in tally.latency.items()
            if v
        },
        "cpu": {"app": usage.app, "db": usage.db, "broker": usage.broker},
        "load": os.getloadavg()[0],
    }
    cpu_ms = (usage.app + sum(usage.db.values())) * 1000 / max(1, done)
    console.print(
        f"  {label} {name}: {done:,} ops in {elapsed:.1f} s = {out['rate']:,.0f}/s, "
        f"CPU {cpu_ms:.2f} ms/op (app {usage.app * 1000 / max(1, done):.2f}), "
        f"failed {sum(tally.failed.values())}"
        + (f" — {tally.sample_failure[:200]}" if tally.sample_failure else "")
    )
    return out


def rows_since(engines: dict[str, Any], sql: str, since: dt.datetime) -> Iterator[tuple[str, Any]]:
    """Each node's rows of `sql` (its `:since` bound to `since`), with the node's name."""
    for name, engine in engines.items():
        with engine.connect() as conn:
            for row in conn.execute(text(sql), {"since": since}):
                yield name, row


def messages(lay: Layout, since: float, wait: float) -> dict[str, Any]:
    """Wait until every message between provinces sent on any node has been applied (or
    `wait` seconds), then their latency from the inboxes, for those sent after `since`."""
    wait_for_servers(lay.nodes)
    engines = {n.name: create_engine(n.url) for n in lay.nodes}
    sent = applied = 0
    deadline = time.monotonic() + wait
    try:
        while True:
            sent = applied = 0
            for engine in engines.values():
                with engine.connect() as conn:
                    sent += conn.scalar(
                        text("SELECT count(*) FROM outbox WHERE topic = 'interprovince'")
                    )
                    applied += conn.scalar(text("SELECT count(*) FROM interprovince_applied"))
            if applied >= sent or time.monotonic() > deadline:
                break
            console.print(f"  waiting for messages: {applied:,} of {sent:,} applied")
            time.sleep(2)
        since_at = dt.datetime.fromtimestamp(since, dt.UTC)
        # When the sending node's relay (or its delivery) handed each message over.
        handed: dict[str, dt.datetime] = {
            str(i): at
            for _, (i, at) in rows_since(
                engines,
                "SELECT payload->>'id', delivered_at FROM outbox "
                "WHERE topic = 'interprovince' AND created_at >= :since",
                since_at,
            )
            if at is not None
        }
        lat: list[float] = []
        relay: list[float] = []
        consume: list[float] = []
        crossed = 0
        for name, (mid, to_p, from_p, sent_at, applied_at) in rows_since(
            engines,
            "SELECT message_id, to_province, from_province, sent_at, applied_at "
            "FROM interprovince_applied WHERE sent_at >= :since",
            since_at,
        ):
            lat.append((applied_at - sent_at).total_seconds())
            if mid in handed:
                relay.append((handed[mid] - sent_at).total_seconds())
                consume.append((applied_at - handed[mid]).total_seconds())
            other = from_p is not None and lay.node_of(from_p).name != name
            crossed += int(other or lay.node_of(to_p).name != name)
    finally:
        for engine in engines.values():
            engine.dispose()
    return {
        "sent": sent,
        "applied": applied,
        "timed": len(lat),
        "between_nodes": crossed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat, default=0.0) * 1000,
        # The two legs: sent → handed over by the sending node (outbox.delivered_at), and
        # handed over → applied on the receiving node.
        "relay_p50_ms": percentile(relay, 50) * 1000,
        "relay_p99_ms": percentile(relay, 99) * 1000,
        "consume_p50_ms": percentile(consume, 50) * 1000,
        "consume_p99_ms": percentile(consume, 99) * 1000,
    }


def started_at(lay: Layout) -> dict[str, str]:
    """When each node's server started (`pg_postmaster_start_time`); absent if unreachable."""
    out = {}
    for node in lay.nodes:
        engine = create_engine(node.url)
        try:
            with engine.connect() as conn:
                out[node.name] = str(conn.scalar(text("SELECT pg_postmaster_start_time()")))
        except Exception:  # down at this moment: counts as restarted
            out[node.name] = "down"
        finally:
            engine.dispose()
    return out


def run_nodes(
    count: int, records: list[dict[str, Any]], args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    label = f"[{count} node{'s' if count > 1 else ''}]"
    lay = layout(count, records)
    for node in lay.nodes:
        held = sum(lay.lines_of[p] for p in node.provinces)
        console.print(
            f"{label} {node.name} (:{node.port}/{node.database}) {len(node.provinces)} provinces, "
            f"{held:,} lines"
        )
    key = secrets.token_urlsafe(36)
    map_path = tmp / f"nodes-{count}.toml"
    map_path.write_text(lay.map_toml(), encoding="utf-8")
    env = server_env(lay, key, map_path)
    t0 = time.perf_counter()
    loaded = prepare(lay, records, key, env, tmp)
    console.print(
        f"{label} migrated and imported {len(loaded.line_id):,} lines in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    work = work_for(lay, loaded, key, records)
    booted = started_at(lay)
    phases: dict[str, Any] = {}
    with served(env, args.apps, tmp) as (bases, pids):
        meter = CpuMeter(pids, {n.name: n.database for n in lay.nodes})
        drive(bases, work, args.mix, args.clients, args.warmup, Tally(), seed=1)  # warm-up
        first = time.time()
        for kind in KINDS:
            phases[kind] = timed(kind, label, bases, work, {kind: 1.0}, args, meter, args.seconds)
        phases["mix"] = timed("mix", label, bases, work, args.mix, args, meter, args.mix_seconds)
        msg = messages(lay, first, args.drain)
        # The phases above run the machine flat out, so their messages queue behind a
        # consumer short of CPU. Then a paced trickle (one client, a pause between
        # operations, as the national peak's ~10 messages a second would be), timed alone.
        paced_from = time.time()
        console.print(f"  {label} paced cross-region work for {args.paced_seconds:g} s …")
        drive(bases, work, {"cash_in": 1.0, "cash_out": 1.0}, 1, args.paced_seconds, Tally(),
              seed=7, pause=args.pace)  # fmt: skip
        paced = messages(lay, paced_from, args.drain)
    # These servers may be shared: a node restarted by someone else during the run explains
    # its provinces' 503 NODE_UNAVAILABLE answers (the other nodes keep working).
    after = started_at(lay)
    restarted = [n for n in booted if after.get(n) != booted[n]]
    if restarted:
        console.print(f"{label} restarted during the run: {', '.join(restarted)}")
    console.print(
        f"{label} messages: {msg['timed']:,} applied ({msg['between_nodes']:,} between nodes), "
        f"latency p50 {msg['p50_ms']:.0f} ms, p99 {msg['p99_ms']:.0f} ms; paced: "
        f"{paced['timed']:,}, p50 {paced['p50_ms']:.0f} ms, p99 {paced['p99_ms']:.0f} ms"
    )
    return {
        "nodes": count,
        "layout": [
            {
                "name": n.name,
                "port": n.port,
                "provinces": list(n.provinces),
                "lines": sum(lay.lines_of[p] for p in n.provinces),
            }
            for n in lay.nodes
        ],
        "phases": phases,
        "messages": msg,
        "paced": {**paced, "seconds": args.paced_seconds},
        "restarted": restarted,
    }


def parse_mix(text_: str) -> dict[str, float]:
    mix = {}
    for part in text_.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        mix[kind.strip()] = float(weight)
    return mix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", default="1,2,3", help="node counts to run (at most 3)")
    ap.add_argument("--lines", type=int, default=30_000, help="lines over the 31 provinces")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--apps", type=int, default=2, help="`xiaohu serve` processes")
    ap.add_argument("--seconds", type=float, default=8, help="each kind alone, timed")
    ap.add_argument("--mix-seconds", type=float, default=20, help="the mix, timed")
    ap.add_argument("--warmup", type=float, default=3, help="untimed mix first")
    ap.add_argument("--paced-seconds", type=float, default=10, help="paced messages, timed")
    ap.add_argument("--pace", type=float, default=0.1, help="pause between paced operations")
    ap.add_argument("--drain", type=float, default=60, help="wait at most this for messages")
    ap.add_argument(
        "--mix",
        type=parse_mix,
        default="check=0.55,cancel=0.15,cash_in=0.15,cash_out=0.15",
        help="weights of the kinds in the mix",
    )
    ap.add_argument(
        "--storage-lines",
        type=int,
        default=20_000,
        help="demo lines for the storage a line takes (0: skip)",
    )
    ap.add_argument("--no-doc", action="store_true", help="leave docs/ alone")
    ap.add_argument("--report-only", action="store_true", help="redraw from the saved JSON")
    args = ap.parse_args()
    # The in-process runtimes (migrate, import) would repeat the staging warnings per node.
    logging.getLogger("xiaohu").setLevel(logging.ERROR)
    if args.report_only:
        report(json.loads(RESULTS.read_text()), write_docs=not args.no_doc)
        return
    counts = [int(c) for c in args.nodes.split(",")]
    if any(c < 1 or c > 3 for c in counts):
        raise SystemExit("--nodes: counts from 1 to 3 (three PostgreSQL servers)")
    started = time.perf_counter()
    records = line_records(args.lines)
    console.print(f"{len(records):,} lines over 31 provinces; node counts {counts}")
    runs = []
    with tempfile.TemporaryDirectory(prefix="xiaohu-bench-national-") as tmp:
        for count in counts:
            runs.append(run_nodes(count, records, args, Path(tmp)))
        storage = None
        if args.storage_lines:
            console.print(f"storage: {args.storage_lines:,} demo lines and a close-cycle …")
            storage = measure_storage(args.storage_lines, Path(tmp))
            console.print(
                f"storage: {storage['bytes_per_line']:,.0f} bytes a line, "
                f"{storage['month_bytes_per_line']:,.0f} more a month (close-cycle)"
            )
    results = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "seconds": time.perf_counter() - started,
        "args": {k: v for k, v in vars(args).items() if k not in ("report_only", "no_doc")},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "runs": runs,
        "storage": storage,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
    report(results, write_docs=not args.no_doc)


if __name__ == "__main__":
    main()
