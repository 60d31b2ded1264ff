"""The national benchmark's report: a table on the terminal, the "National" section of
docs/benchmarks.md and the chart docs/bench-national.png."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from report import replace_section

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "bench-national.png"
console = Console(width=max(140, shutil.get_terminal_size().columns), highlight=False)
PHASES = ("check", "cancel", "cash_in", "cash_out", "mix")
LABEL = {
    "check": "check (GET)",
    "cancel": "cancellation online (check + POST)",
    "cash_in": "cash top-up at another province's store",
    "cash_out": "cancellation at another province's store, cash refund (check + POST)",
    "mix": "mix",
}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def per_op(phase: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds an operation: app, each node's backends, broker, total (app + db)."""
    n = max(1, phase["ops"])
    cpu = phase["cpu"]
    out = {"app": cpu["app"] * 1000 / n}
    for node, seconds in cpu["db"].items():
        out[node] = seconds * 1000 / n
    out["db"] = sum(cpu["db"].values()) * 1000 / n
    out["total"] = out["app"] + out["db"]
    out["broker"] = (cpu["broker"] or 0.0) * 1000 / n
    return out


def _db_cell(runs_cpu: dict[str, float], nodes: int) -> str:
    return " + ".join(f"{runs_cpu.get(f'n{k + 1}', 0.0):.2f}" for k in range(nodes))


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for run in results["runs"]:
        nodes = run["nodes"]
        for name in PHASES:
            ph = run["phases"].get(name)
            if ph is None:
                continue
            cpu = per_op(ph)
            failed = sum(ph["failed"].values())
            rows.append(
                [
                    str(nodes),
                    name,
                    f"{ph['rate']:,.0f}" + ("+" if ph["exhausted"] else ""),
                    f"{ph['p50_ms']:.1f}",
                    f"{ph['p99_ms']:.1f}",
                    f"{cpu['app']:.2f}",
                    _db_cell(cpu, nodes),
                    f"{cpu['total']:.2f}",
                    f"{cpu['broker']:.2f}" if ph["cpu"]["broker"] is not None else "—",
                    str(failed),
                ]
            )
    return rows


HEADER = [
    "nodes",
    "work",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "app CPU ms/op",
    "PostgreSQL CPU ms/op (n1 + n2 + n3)",
    "total ms/op",
    "broker ms/op",
    "failed",
]


def message_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for run, load, m in _message_runs(results):
        rows.append(
            [
                str(run["nodes"]),
                load,
                f"{m['timed']:,}",
                f"{m['between_nodes']:,}",
                f"{m['p50_ms']:.0f}",
                f"{m['p99_ms']:.0f}",
                f"{m['max_ms']:.0f}",
                f"{m.get('relay_p50_ms', 0):.0f} / {m.get('relay_p99_ms', 0):.0f}",
                f"{m.get('consume_p50_ms', 0):.0f} / {m.get('consume_p99_ms', 0):.0f}",
                "yes" if m["applied"] >= m["sent"] else f"{m['sent'] - m['applied']:,} not yet",
            ]
        )
    return rows


def _message_runs(results: dict[str, Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    out = []
    for run in results["runs"]:
        out.append((run, "flat out (the phases)", run["messages"]))
        if run.get("paced"):
            p = run["paced"]
            out.append((run, f"paced ({p['timed'] / p['seconds']:.0f} messages/s)", p))
    return out


MSG_HEADER = [
    "nodes",
    "load",
    "messages",
    "between nodes",
    "p50 ms",
    "p99 ms",
    "max ms",
    "sent → handed over p50 / p99",
    "handed over → applied p50 / p99",
    "all applied",
]


def show(results: dict[str, Any]) -> None:
    t = Table(title="National: 1, 2, 3 nodes (CPU per completed operation)")
    for h in HEADER:
        t.add_column(h, justify="left" if h == "work" else "right")
    for row in table_rows(results):
        t.add_row(*row)
    console.print(t)
    m = Table(title="Messages between provinces: sent (sender's clock) → applied (receiver's)")
    for h in MSG_HEADER:
        m.add_column(h, justify="right")
    for row in message_rows(results):
        m.add_row(*row)
    console.print(m)


def _md(header: list[str], rows: list[list[str]]) -> str:
    align = ["---" if h == "work" else "--:" for h in header]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def chart(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 1]})
    kinds = [k for k in PHASES if all(k in r["phases"] for r in runs)]
    width = 0.8 / max(1, len(runs))
    colors = {"app": "#4c72b0", "n1": "#dd8452", "n2": "#55a868", "n3": "#c44e52"}
    for j, run in enumerate(runs):
        xs = [i + (j - (len(runs) - 1) / 2) * width for i in range(len(kinds))]
        bottom = [0.0] * len(kinds)
        for part in ["app"] + [f"n{k + 1}" for k in range(run["nodes"])]:
            heights = [per_op(run["phases"][k]).get(part, 0.0) for k in kinds]
            last = j == len(runs) - 1  # the last run has every part: one legend entry each
            label = ("app processes" if part == "app" else f"PostgreSQL {part}") if last else None
            left.bar(xs, heights, width * 0.95, bottom=bottom, color=colors[part], label=label)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for x, b in zip(xs, bottom, strict=True):
            left.text(x, b, f"{run['nodes']}", ha="center", va="bottom", fontsize=8)
    left.set_xticks(range(len(kinds)), [k.replace("_", " ") for k in kinds])
    left.set_ylabel("CPU ms per operation")
    left.set_title("CPU per operation, per node (bars: 1, 2, 3 nodes)")
    left.legend(fontsize=8)
    xs = list(range(len(runs)))
    bars = [
        ("flat out p50", "messages", "p50_ms", "#8172b3"),
        ("flat out p99", "messages", "p99_ms", "#937860"),
        ("paced p50", "paced", "p50_ms", "#64b5cd"),
        ("paced p99", "paced", "p99_ms", "#8c8c8c"),
    ]
    for i, (label, key, q, color) in enumerate(bars):
        heights = [max(1.0, (r.get(key) or {}).get(q, 0.0)) for r in runs]
        right.bar([x + (i - 1.5) * 0.2 for x in xs], heights, 0.2, label=label, color=color)
    right.set_yscale("log")
    right.set_xticks(xs, [f"{r['nodes']} node{'s' if r['nodes'] > 1 else ''}" for r in runs])
    right.set_ylabel("ms, sent → applied (log scale)")
    right.set_title("Message latency between provinces")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)
    plt.close(fig)


def section(results: dict[str, Any]) -> str:
    a = results["args"]
    mix = ", ".join(f"{k} {v:g}" for k, v in a["mix"].items())
    lines = [
        "<!-- national:start -->",
        "## National: 1, 2 and 3 nodes (`make bench-national`)",
        "",
        f"The same work on 1, 2 and 3 PostgreSQL servers of this machine, {a['lines']:,} lines "
        f"over the 31 provinces, {a['apps']} `xiaohu serve` processes with the node map, "
        f"{a['clients']} concurrent clients; each kind of work alone for {a['seconds']:g} s, "
        f"then the mix ({mix}) for {a['mix_seconds']:g} s. CPU is per completed operation: "
        "the app processes, and each node's PostgreSQL backends serving the benchmark's database.",
        "",
        _md(HEADER, table_rows(results)),
        "",
        _md(MSG_HEADER, message_rows(results)),
        "",
        "![CPU per operation per node, and message latency](bench-national.png)",
        "",
        "Placement (provinces by lines, largest first on the lightest node):",
        "",
    ]
    for run in results["runs"]:
        parts = [f"{n['name']} {len(n['provinces'])} provinces, {n['lines']:,} lines"
                 for n in run["layout"]]  # fmt: skip
        lines.append(f"- {run['nodes']} node(s): " + "; ".join(parts))
    st = results.get("storage")
    if st:
        per_line, per_month = st["bytes_per_line"], st["month_bytes_per_line"]
        lines += [
            "",
            f"Storage (`national_storage`): {st['lines']:,} demo lines (`xiaohu demo-data`: "
            f"bills, contracts, bundles, family groups) take {per_line:,.0f} bytes a line in "
            "PostgreSQL (tables and indexes, the empty schema left out); one monthly "
            f"close-cycle adds {per_month:,.0f} bytes a line ({st['bills']:,} bills with their "
            "journal entries and SMS).",
        ]
    m = results["machine"]
    lines += [
        "",
        "### How it was measured",
        "",
        f"- Command: `make bench-national`, {results['date']}, whole run "
        f"{results['seconds']:.0f} s. {m['cpus']} cores shared by the clients, the app "
        f"processes, the three PostgreSQL servers and the broker; Python {m['python']}. "
        f"1-minute load average at the end of each phase: {_loads(results)}; other work "
        "shared the machine, which makes CPU per operation higher than on a quiet one (compare "
        "the Service section's figures).",
        "- Work: `check` is the online check; `cancel` the check then the cancellation "
        "(refund to the original route); `cash_in` a clerk at a store of another province "
        "taking a cash top-up; `cash_out` a clerk at a store of another province cancelling "
        "the line with a cash refund (counter check, then the cancellation). The store is on "
        "another node whenever there is more than one, so each `cash_in` and `cash_out` sends "
        "a message between nodes. Line and clerk tokens are minted with the server's key.",
        "- CPU: user + system time from /proc of the `xiaohu serve` processes (their relay, "
        "consumer and delivery threads included) and of each node's backends serving the "
        "benchmark's database; the servers' WAL writer and checkpointer are not counted "
        "(shared with other databases). `broker` is the RabbitMQ server's whole CPU over the "
        "phase (it may serve others too). On one machine, more nodes do not add cores: what "
        "the node count changes is how the same work spreads over the servers.",
        "- Message latency: from the sender's clock in its transaction (`sent_at`) to the "
        "receiver's when it applied the message (`interprovince_applied.applied_at`), for "
        "every message sent in the timed phases, read after all had been applied; then again "
        "for a paced trickle of cross-region work (one client, a pause between operations) "
        "after the backlog was gone. The two "
        "legs: to the sending node's hand-over (the outbox row's `delivered_at`: published "
        "and confirmed by the broker, or applied locally with one node), then to the apply.",
        "- Flat out, the clients and the requests take both cores, and the consumer threads "
        "inside the `xiaohu serve` processes (one per process, a transaction a message) get "
        "what is left: the messages wait in the broker's queues (the sending side's leg stays "
        "well under a second) and drain once the phases end. The paced rows are the latency "
        "when the consumer is not starved of CPU.",
        "- A `+` after a rate means that kind's lines ran out before the time did.",
        *_failures(results),
        "- The sizing for a national operator built on these figures: [scale.md](scale.md).",
        "<!-- national:end -->",
    ]
    return "\n".join(lines) + "\n"


def _failures(results: dict[str, Any]) -> list[str]:
    """A line for each phase with failed operations: how many, and the first one's answer."""
    out = []
    for run in results["runs"]:
        if run.get("restarted"):
            out.append(
                f"- {run['nodes']} node(s): the server of {', '.join(run['restarted'])} was "
                "restarted during the run by other work sharing these servers; while it was "
                "down its provinces would answer 503 `NODE_UNAVAILABLE` (counted as failed "
                "above, if any), the other nodes' kept working."
            )
        for name in PHASES:
            ph = run["phases"].get(name)
            if ph and sum(ph["failed"].values()):
                first = ph["sample_failure"]
                code = re.search(r'"code":"([A-Z_]+)"', first)
                status = re.search(r"→ (\d{3})", first)
                what = " ".join(x.group(1) for x in (status, code) if x) or first[:120]
                out.append(
                    f"- {run['nodes']} node(s), {name}: {sum(ph['failed'].values())} operations "
                    f"failed (the first: {what})."
                )
    return out


def _loads(results: dict[str, Any]) -> str:
    parts = []
    for run in results["runs"]:
        loads = [f"{run['phases'][k]['load']:.1f}" for k in PHASES if k in run["phases"]]
        parts.append(f"{run['nodes']} node(s) {', '.join(loads)}")
    return "; ".join(parts)


def report(results: dict[str, Any], *, write_docs: bool = True) -> None:
    show(results)
    if write_docs:
        chart(results)
        replace_section(DOC, "national", section(results))
        console.print(f"wrote {CHART.relative_to(ROOT)} and the National section of docs/")
