"""The national benchmark's data: lines over the 31 provinces, the provinces split over the
nodes, fresh databases on each node's server, the import, and a store with a clerk in every
province (reference data is on every node)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lines_data import clean_line, import_lines, recreate_database, write_jsonl
from lines_data import settings_for as shared_settings_for

# The three PostgreSQL servers of `make pg-nodes`, one a node.
NODE_PORTS = (5432, 5433, 5434)
PG_HOST = os.environ.get("XIAOHU_BENCH_PG_HOST", "postgresql+psycopg://postgres@127.0.0.1")
BROKER_URL = os.environ.get("XIAOHU_BENCH_BROKER", "amqp://guest:guest@127.0.0.1:5672/%2F")
NAMESPACE = "xiaohubench"  # the broker's exchange and queues of this benchmark only
STORE_KIND = "own_flagship"  # may take payments and cancel with a cash refund
CLERK_ID_BASE = 9000  # staff ids, the same on every node (a token names its staff id)


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    database: str
    provinces: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"{PG_HOST}:{self.port}/{self.database}"


@dataclass
class Layout:
    """N nodes and which provinces each holds: balanced by lines, so each server gets its
    share of the work (the largest province alone sets the floor of the largest node)."""

    nodes: list[Node]
    lines_of: dict[str, int] = field(default_factory=dict)

    def node_of(self, province: str) -> Node:
        for node in self.nodes:
            if province in node.provinces:
                return node
        raise KeyError(province)

    def map_toml(self) -> str:
        out = [f'broker_url = "{BROKER_URL}"', f'broker_namespace = "{NAMESPACE}"']
        out.append(f'default = "{self.nodes[0].name}"')
        for node in self.nodes:
            provinces = ", ".join(f'"{p}"' for p in node.provinces)
            out += ["", f"[nodes.{node.name}]", f'database_url = "{node.url}"']
            out.append(f"provinces = [{provinces}]")
        return "\n".join(out) + "\n"


def province_prefixes() -> dict[str, list[str]]:
    """Allocated 7-digit mobile blocks of each province (a sparse scan of the number plan)."""
    from xiaohu.intake.rules import check_number
    from xiaohu.regions.rules import home_of_prefix

    found: dict[str, list[str]] = {}
    for p in range(1300000, 1999999, 61):
        s = str(p)
        where = home_of_prefix(s)
        if where is not None and check_number(s + "0000") is None:
            found.setdefault(where.province_code, []).append(s)
    return found


def line_records(total: int) -> list[dict[str, Any]]:
    """Clean lines (active, real-name verified, no arrears, contract, bundle or order, cash
    above a month's fee) over the 31 provinces, each in proportion to its allocated number
    blocks (Guangdong the largest, Tibet the smallest, as in life); a third carry a gift
    balance, so a warning to acknowledge. One owner each."""
    prefixes = province_prefixes()
    weight = {p: len(v) for p, v in prefixes.items()}
    whole = sum(weight.values())
    out: list[dict[str, Any]] = []
    for code in sorted(prefixes):
        share = max(20, round(total * weight[code] / whole))
        blocks = prefixes[code]
        for k in range(share):
            block, suffix = divmod(k, 10_000)
            out.append(clean_line(len(out), f"{blocks[block % len(blocks)]}{suffix:04d}"))
    return out


def home(msisdn: str) -> str:
    """The number's home province (every generated number has one)."""
    from xiaohu.regions.rules import home_of_prefix

    found = home_of_prefix(msisdn[:7])
    if found is None:
        raise ValueError(f"no home province for {msisdn[:7]}")
    return found.province_code


def layout(count: int, records: list[dict[str, Any]]) -> Layout:
    """`count` nodes on ports 5432.., provinces placed largest first on the lightest node."""
    from xiaohu.regions.provinces import PROVINCES

    lines_of: dict[str, int] = dict.fromkeys(PROVINCES, 0)
    for r in records:
        lines_of[home(r["msisdn"])] += 1
    held: list[list[str]] = [[] for _ in range(count)]
    load = [0] * count
    for code in sorted(lines_of, key=lambda c: (-lines_of[c], c)):
        k = load.index(min(load))
        held[k].append(code)
        load[k] += lines_of[code]
    nodes = [
        Node(f"n{k + 1}", NODE_PORTS[k], f"xiaohu_bench_n{k + 1}", tuple(sorted(held[k])))
        for k in range(count)
    ]
    return Layout(nodes, lines_of)


def wait_for_servers(nodes: list[Node], seconds: float = 120) -> None:
    """Each node's server answering (they may be shared, and restarted by someone else)."""
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + seconds
    for node in nodes:
        engine = create_engine(f"{PG_HOST}:{node.port}/postgres")
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        conn.execute(text("SELECT 1"))
                    break
                except OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    print(f"waiting for the server on port {node.port} …", flush=True)
                    time.sleep(2)
        finally:
            engine.dispose()


def recreate(node: Node) -> None:
    recreate_database(f"{PG_HOST}:{node.port}", node.database)


def settings_for(url: str, key: str) -> Any:
    return shared_settings_for(url, key, log_level="warning")


def server_env(lay: Layout, key: str, map_path: Path) -> dict[str, str]:
    """What `xiaohu serve` (and `xiaohu migrate`) run with: production on the sandbox
    gateways, as a staging system would, with the node map."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOHU_")}
    env.update(
        {
            "XIAOHU_DATABASE_URL": lay.nodes[0].url,
            "XIAOHU_NODE_MAP": str(map_path),
            "XIAOHU_MODE": "production",
            "XIAOHU_SECRET_KEY": key,
            "XIAOHU_ADMIN_TOKEN": key,
            "XIAOHU_ALLOW_SANDBOX_GATEWAYS": "true",
            # One log line a request would be work the benchmark did not ask for.
            "XIAOHU_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def xiaohu_command() -> list[str]:
    script = Path(sys.executable).with_name("xiaohu")
    return [str(script)] if script.exists() else [sys.executable, "-m", "xiaohu.cli"]


@dataclass
class Loaded:
    """What the load needs: each line's id (for its token) and its record."""

    line_id: dict[str, int]
    record: dict[str, dict[str, Any]]


def prepare(
    lay: Layout, records: list[dict[str, Any]], key: str, env: dict[str, str], tmp: Path
) -> Loaded:
    """Fresh databases, `xiaohu migrate` with the node map (every node where the command
    knows the map; each node is brought to the schema again in case), the lines imported
    into their home node by the real importer, and the stores and clerks on every node."""
    from sqlalchemy import select

    from xiaohu.assembly import build_runtime
    from xiaohu.kit.migrate import upgrade
    from xiaohu.lines.models import Line

    wait_for_servers(lay.nodes)
    for node in lay.nodes:
        recreate(node)
    subprocess.run([*xiaohu_command(), "migrate"], env=env, check=True, capture_output=True)
    line_id: dict[str, int] = {}
    for node in lay.nodes:
        runtime = build_runtime(settings_for(node.url, key))
        upgrade(runtime.engine)
        mine = [r for r in records if home(r["msisdn"]) in node.provinces]
        import_lines(runtime, write_jsonl(tmp / f"{node.name}.jsonl", mine), f" on {node.name}")
        add_stores(runtime)
        with runtime.sessions() as session:
            line_id.update({m: i for m, i in session.execute(select(Line.msisdn, Line.id))})
        runtime.engine.dispose()
    return Loaded(line_id, {r["msisdn"]: r for r in records})


def store_code(province: str) -> str:
    return f"{province}-BN-0001"


def add_stores(runtime: Any) -> None:
    """A flagship store in every province, one clerk each, with the same ids on every node."""
    from xiaohu.identity.passwords import hash_password
    from xiaohu.regions.provinces import PROVINCES
    from xiaohu.staff.models import StaffMember
    from xiaohu.stores.models import Store

    now = dt.datetime.now(dt.UTC)
    password = hash_password("bench-clerk-password-0")
    codes = sorted(PROVINCES)
    with runtime.sessions() as session, session.begin():
        for code in codes:
            p = PROVINCES[code]
            session.add(
                Store(
                    code=store_code(code),
                    name=f"{p.short}基准营业厅",
                    province_code=code,
                    city=p.short,
                    kind=STORE_KIND,
                    created_at=now,
                    updated_at=now,
                )
            )
        session.flush()  # the stores before the staff who work in them (a foreign key)
        for k, code in enumerate(codes):
            session.add(
                StaffMember(
                    id=CLERK_ID_BASE + k,
                    login=f"bench.clerk.{code}",
                    name="基准店员",
                    role="clerk",
                    province_code=code,
                    store_code=store_code(code),
                    password_hash=password,
                    failures=0,
                    created_at=now,
                    updated_at=now,
                )
            )


def clerk_tokens(key: str, ttl: int) -> dict[str, str]:
    """The token a clerk's sign-in would give, per province of the store."""
    from xiaohu.principals import issue_staff
    from xiaohu.regions.provinces import PROVINCES

    now = dt.datetime.now(dt.UTC)
    return {
        code: issue_staff(
            key.encode(),
            staff_id=CLERK_ID_BASE + k,
            login=f"bench.clerk.{code}",
            role="clerk",
            province_code=code,
            store_code=store_code(code),
            now=now,
            ttl_seconds=ttl,
        )
        for k, code in enumerate(sorted(PROVINCES))
    }


def line_tokens(key: str, loaded: Loaded, ttl: int) -> dict[str, str]:
    from xiaohu.principals import issue

    now = dt.datetime.now(dt.UTC)
    return {m: issue(key.encode(), i, m, now, ttl) for m, i in loaded.line_id.items()}


def store_province_for(lay: Layout, home: str, index: int) -> str:
    """The province of the store where a line's cross-region work happens: on the next node
    when there is more than one (so the message crosses between servers), else any other
    province; chosen by `index`, so the stores share the work."""
    k = next(i for i, n in enumerate(lay.nodes) if home in n.provinces)
    if len(lay.nodes) > 1:
        there = lay.nodes[(k + 1) % len(lay.nodes)].provinces
    else:
        there = tuple(p for p in lay.nodes[0].provinces if p != home)
    return there[index % len(there)]
