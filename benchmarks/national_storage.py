"""Storage a line takes on a node, for the sizing (docs/scale.md): `--storage` of the national
benchmark. Realistic lines (`xiaohu demo-data`: bills, contracts, bundles, family groups,
balances) imported by the real importer into a fresh PostgreSQL database, then one monthly
close-cycle over them; the database's size (tables, indexes, TOAST) read before and after
each step, so the empty schema's own size is left out."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from national_data import PG_HOST, Node, recreate, settings_for, xiaohu_command

PERIOD = "2026-10"  # the month the demo data's usage and bills belong to


def database_bytes(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT pg_database_size(current_database())")))
    finally:
        engine.dispose()


def measure(lines: int, tmp: Path) -> dict[str, Any]:
    from xiaohu.assembly import build_runtime
    from xiaohu.cancellation.cycle import run_close_cycle
    from xiaohu.intake.importer import import_path
    from xiaohu.kit.migrate import upgrade

    node = Node("storage", 5432, "xiaohu_bench_storage", ())
    recreate(node)
    url = f"{PG_HOST}:{node.port}/{node.database}"
    data = tmp / "demo.jsonl"
    subprocess.run(
        [
            *xiaohu_command(),
            "demo-data",
            "--lines",
            str(lines),
            "--seed",
            "2026",
            "--out",
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    runtime = build_runtime(settings_for(url, "storage-benchmark-key-0123456789-abcdefghijkl"))
    upgrade(runtime.engine)
    empty = database_bytes(url)
    t0 = time.perf_counter()
    result = import_path(runtime, data, show_progress=False, skip_invalid=True)
    imported_s = time.perf_counter() - t0
    loaded = database_bytes(url)
    t0 = time.perf_counter()
    report = run_close_cycle(runtime, PERIOD, show_progress=None)
    cycle_s = time.perf_counter() - t0
    closed = database_bytes(url)
    runtime.engine.dispose()
    n = max(1, result.imported)
    return {
        "lines": result.imported,
        "bytes_per_line": (loaded - empty) / n,
        "month_bytes_per_line": (closed - loaded) / n,
        "bills": report.get("bills_issued"),
        "import_s": imported_s,
        "close_cycle_s": cycle_s,
    }
