"""The `xiaohu` command line: serve, import, demo data and the runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from xiaohu import __version__
from xiaohu.billing.refunds_cli import Shell, refunds_app
from xiaohu.config import get_settings
from xiaohu.counter.drawer_cli import drawer as drawer_command
from xiaohu.kit.db import masked_url
from xiaohu.platforms.cli import platforms_app
from xiaohu.runtime import Runtime

app = typer.Typer(help="xiaohu (销户): number cancellation service", no_args_is_help=True)
run_app = typer.Typer(help="Batch runs; every run is safe to repeat.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(refunds_app, name="refunds")
app.add_typer(platforms_app, name="platforms")
stores_app = typer.Typer(
    help="The stores (营业厅) where lines are served, and their cash drawers.",
    no_args_is_help=True,
)
stores_app.command("drawer")(drawer_command)
staff_app = typer.Typer(
    help="Staff accounts: clerks, hotline, back office, admins.", no_args_is_help=True
)
app.add_typer(stores_app, name="stores")
app.add_typer(staff_app, name="staff")
err = Console(stderr=True, soft_wrap=True)
out = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"xiaohu {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """xiaohu (销户): number cancellation service"""
    ctx.obj = Shell(_runtime, out, err)


def _where(runtime: Runtime) -> str:
    """The database, or the node map's nodes, for the start-up line."""
    nodes = runtime.nodes
    if not nodes.national:
        return f"database {masked_url(nodes.default_node().database_url)}"
    return f"{len(nodes.nodes)} nodes from {nodes.source}, default {nodes.default}"


def _runtime(migrate: bool = True):  # type: ignore[no-untyped-def]
    """Settings, policy and database, with one-line errors instead of tracebacks."""
    from pydantic import ValidationError

    from xiaohu.assembly import ConfigurationError, build_runtime
    from xiaohu.kit.migrate import upgrade
    from xiaohu.policy.loader import PolicyError

    try:
        settings = get_settings()
    except ValidationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    try:
        runtime = build_runtime(settings)
    except PolicyError as exc:
        err.print(f"[red]policy error:[/red] {exc}")
        raise typer.Exit(2) from None
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if migrate:
            upgrade(runtime.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        url = runtime.nodes.default_node().database_url
        err.print(f"cannot reach the database at {masked_url(url)}: {reason}")
        raise typer.Exit(3) from None
    return runtime


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (with a node map: every node's, and its id block)."""
    from xiaohu.national.placement import migrate_every_node

    runtime = _runtime(migrate=False)
    if not runtime.nodes.national:
        from xiaohu.kit.migrate import upgrade

        upgrade(runtime.engine)  # reached just now by _runtime
        out.print("database is at the latest schema")
        return
    failed = 0
    for done in migrate_every_node(runtime):
        mark = "ok" if done.ok else "[red]FAILED[/red]"
        out.print(f"node {done.node}: {mark} {done.detail}", highlight=False)
        failed += not done.ok
    if failed:
        err.print(f"{failed} node(s) not migrated: run `xiaohu migrate` again once they are up")
        raise typer.Exit(3)
    out.print(f"every node ({len(runtime.nodes.nodes)}) is at the latest schema")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Migrate the database if needed and serve the API and pages."""
    import uvicorn

    from xiaohu.app import create_app
    from xiaohu.operations.logs import configure_logging

    runtime = _runtime(migrate=True)
    mode = runtime.settings.mode
    delivery = "inline" if runtime.settings.outbox_inline else "background"
    out.print(
        f"xiaohu serving in [bold]{mode}[/bold] mode on http://{host}:{port}  "
        f"({_where(runtime)}, outbox delivery {delivery})"
    )
    if runtime.sandbox_gateways and not runtime.settings.sandbox:
        err.print(
            "[bold yellow]warning:[/bold yellow] production on SANDBOX gateways: nothing is "
            "really sent, paid or provisioned (XIAOHU_ALLOW_SANDBOX_GATEWAYS=true)"
        )
    # The app's lifespan runs the outbox delivery thread: woken after each commit in
    # background mode, and in either mode the sweeper that retries failed deliveries.
    app_ = create_app(runtime, outbox_worker=True)
    # Every log line (uvicorn's too: no log_config of its own) goes through structlog; the
    # access log is the app's own (operations/middleware.py), one line per request.
    configure_logging(runtime.settings.log_renderer, runtime.settings.log_level)
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_config=None,
        log_level=runtime.settings.log_level,
        access_log=False,
    )


@app.command()
def consume(
    node: str | None = typer.Option(
        None, "--node", help="relay this node's outbox and consume its provinces' queues"
    ),
) -> None:
    """Move the messages between provinces of a national deployment: the outbox relay and the
    broker's consumer, in the foreground until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from xiaohu.national.broker_threads import start_broker_threads
    from xiaohu.operations.logs import configure_logging

    runtime = _runtime(migrate=False)
    if not runtime.nodes.national:
        err.print("xiaohu consume: XIAOHU_NODE_MAP names no national deployment (one node)")
        raise typer.Exit(2)
    if node is not None and node not in runtime.nodes.names():
        err.print(f"xiaohu consume: no node {node!r} in the node map")
        raise typer.Exit(2)
    configure_logging(runtime.settings.log_renderer, runtime.settings.log_level)
    nodes = [node] if node is not None else None
    provinces = sorted(runtime.nodes.node(node).provinces) if node is not None else None
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    threads = start_broker_threads(runtime, nodes, provinces)
    which = f"node {node}" if node else "every node"
    out.print(f"xiaohu consume: {which}, until SIGTERM or Ctrl-C")
    while not stopping.wait(1.0):
        if not (threads.relay.alive and threads.consumer.alive):
            err.print("xiaohu consume: a broker thread ended unexpectedly")
            threads.stop()
            raise typer.Exit(1)
    threads.stop()
    out.print("xiaohu consume: stopped")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines file"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="write the valid records"),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="validating processes (default: spare cores, else 1)"
    ),
) -> None:
    """Load lines from JSON Lines; invalid records are reported as `line N: field: reason`."""
    from xiaohu.intake.importer import import_path

    runtime = _runtime()
    result = import_path(
        runtime, file, skip_invalid=skip_invalid, show_progress=None, workers=workers
    )
    _print_import_errors(result.errors)
    if result.errors and not skip_invalid:
        err.print(f"[red]{len(result.errors)} invalid record(s): nothing was written[/red]")
        raise typer.Exit(1)
    out.print(
        f"imported {result.imported} line(s)"
        + (f", skipped {result.skipped} invalid" if result.skipped else "")
    )
    _print_nodes(result.nodes)


def _print_nodes(nodes: dict[str, str]) -> None:
    """With a node map: what each node did."""
    for name, said in nodes.items():
        out.print(f"  node {name}: {said}", highlight=False, markup=False)


def _print_import_errors(errors: list[Any]) -> None:
    for e in errors[:200]:
        err.print(f"line {e.line}: {e.field}: {e.reason}", markup=False, highlight=False)
    if len(errors) > 200:
        err.print(f"... and {len(errors) - 200} more errors")


def _import_roster(what: str, file: Path, skip_invalid: bool) -> None:
    """`xiaohu stores import` / `xiaohu staff import`: the line import's rules and report."""
    from xiaohu.intake.roster import STAFF, STORES, import_file

    roster = STORES if what == "stores" else STAFF
    result = import_file(_runtime(), roster, file, skip_invalid=skip_invalid, show_progress=None)
    _print_import_errors(result.errors)
    if result.errors and not skip_invalid:
        err.print(f"[red]{result.invalid} invalid record(s): nothing was written[/red]")
        raise typer.Exit(1)
    out.print(
        f"imported {result.imported} {'store' if what == 'stores' else 'staff record'}(s) "
        f"({result.created} new, "
        f"{result.updated} updated)"
        + (f", skipped {result.skipped} invalid" if result.skipped else "")
    )
    _print_nodes(result.nodes)
    if any(not said.startswith("ok") for said in result.nodes.values()):
        err.print("some nodes were not written: run the same import again once they are up")
        raise typer.Exit(3)


@stores_app.command("import")
def stores_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines file"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="write the valid records"),
) -> None:
    """Load stores from JSON Lines (a code already loaded is updated); invalid records are
    reported as `line N: field: reason` and, without --skip-invalid, nothing is written."""
    _import_roster("stores", file, skip_invalid)


@staff_app.command("import")
def staff_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines file"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="write the valid records"),
) -> None:
    """Load staff from JSON Lines (a login already loaded is updated; a new password lifts a
    lock-out); a clerk's store must be loaded first. Passwords are stored as argon2id hashes."""
    _import_roster("staff", file, skip_invalid)


@app.command("demo-data")
def demo_data(
    lines: int = typer.Option(10_000, "--lines", min=1),
    seed: int = typer.Option(2026, "--seed"),
    out_file: Path | None = typer.Option(None, "--out", help="default: standard output"),
) -> None:
    """Write a realistic synthetic JSON Lines data set, the same for the same seed."""
    from xiaohu.demo.data import FakerMissing, faker_class, write

    try:
        faker_class()  # before an output file is opened
    except FakerMissing as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    if out_file is None:
        write(sys.stdout, lines=lines, seed=seed, show_progress=False)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("w", encoding="utf-8") as fh:
        write(fh, lines=lines, seed=seed, show_progress=None)
    err.print(f"wrote {lines} lines to {out_file}")


@app.command("demo-numbers")
def demo_numbers(
    base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="where it is served"),
) -> None:
    """Numbers of the imported demo data worth trying, with what each one shows."""
    from rich.table import Table

    from xiaohu.demo.data import DEMO_PASSWORD
    from xiaohu.demo.numbers import find_demo_numbers
    from xiaohu.kit.clock import SHANGHAI
    from xiaohu.kit.db import transaction
    from xiaohu.regions.provinces import province_name

    runtime = _runtime()
    with transaction(runtime.sessions, readonly=True) as session:
        ctx = runtime.context(session, actor="demo")
        now = ctx.now()
        numbers = find_demo_numbers(ctx)
    if not numbers:
        err.print("no lines yet: run `xiaohu demo-data --out var/demo.jsonl` and `xiaohu import`")
        raise typer.Exit(1)
    # Each row is what the check answers at this instant, the served sandbox's clock.
    table = Table(
        title=f"Demo numbers, as checked at {now.astimezone(SHANGHAI):%Y-%m-%d %H:%M %Z} "
        "(sandbox: the SMS code is shown at /api/v1/sandbox/sms)"
    )
    # What each number shows comes second and wraps, so a narrow terminal still shows it.
    table.add_column("number", no_wrap=True)
    table.add_column("what it shows", min_width=20, ratio=1)
    table.add_column("province", no_wrap=True)
    table.add_column("status")
    table.add_column("password", no_wrap=True)
    for n in numbers:
        password = DEMO_PASSWORD if n.password_ok else "(not the demo one)"
        table.add_row(n.msisdn, n.shows, province_name(n.province_code), n.status, password)
    out.print(table)
    first = numbers[0].msisdn
    out.print(f"pages:      {base_url}/   (sign in with a number above and its service password)")
    out.print(f"API docs:   {base_url}/docs")
    out.print(f"SMS codes:  {base_url}/api/v1/sandbox/sms?msisdn={first}")


@app.command("demo-load")
def demo_load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the demo JSON Lines file"),
) -> None:
    """Load the demo file's numbers this database does not hold yet; the others keep what
    earlier tries did to them (cancelled, paid...). `xiaohu demo-reset` starts afresh."""
    from xiaohu.demo.load import load

    loaded = load(_runtime(), file, show_progress=None)
    result = loaded.result
    if result.errors:
        _print_import_errors(result.errors)
        err.print(f"[red]{len(result.errors)} invalid record(s): nothing was written[/red]")
        raise typer.Exit(1)
    kept = f"; {loaded.kept} already here, kept as earlier tries left them" if loaded.kept else ""
    out.print(f"imported {result.imported} line(s){kept}")
    _print_nodes(result.nodes)
    if loaded.roster is not None:
        _print_demo_roster(loaded.roster)


def _print_demo_roster(roster: Any) -> None:
    """The demo's stores and staff, and the sandbox passwords to sign them in with."""
    from rich.table import Table

    from xiaohu.demo.stores import CAPITALS, DEMO_STAFF_PASSWORDS

    out.print(
        f"added {roster.stores} store(s) and {roster.staff} staff account(s) "
        f"in {len(roster.provinces)} province(s)"
    )
    if not roster.provinces:
        return
    tag = CAPITALS["11" if "11" in roster.provinces else roster.provinces[0]][0].lower()
    table = Table(title="Demo staff (SANDBOX ONLY passwords): POST /api/v1/staff/token")
    for column in ("role", "login, e.g.", "password"):
        table.add_column(column, no_wrap=True)
    for role, login in [
        ("clerk", f"{tag}.clerk1, {tag}.clerk2"),
        ("hotline_agent", f"{tag}.hotline"),
        ("backoffice", f"{tag}.backoffice"),
        ("admin", f"{tag}.admin"),
    ]:
        table.add_row(role, login, DEMO_STAFF_PASSWORDS[role])
    out.print(table)
    out.print(
        "every province's logins start with its tag: "
        + " ".join(CAPITALS[p][0].lower() for p in roster.provinces)
    )


@app.command("demo-reset")
def demo_reset() -> None:
    """Remove the sandbox's SQLite demo database, to start the demo afresh."""
    from pydantic import ValidationError

    from xiaohu.demo.load import NotResettable, reset

    try:
        settings = get_settings()
    except ValidationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    if not settings.sandbox:
        err.print("demo-reset works in sandbox mode only (XIAOHU_MODE=sandbox)")
        raise typer.Exit(2)
    try:
        removed = reset(settings.database_url)
    except NotResettable as exc:
        err.print(f"{exc}: {masked_url(settings.database_url)}", highlight=False)
        raise typer.Exit(2) from None
    if removed:
        out.print("removed " + ", ".join(str(p) for p in removed))
    else:
        out.print("no demo database to remove")


@run_app.command("close-cycle")
def close_cycle(period: str = typer.Option(..., "--period", help="YYYY-MM")) -> None:
    """Close a billing cycle: rate late usage, true up settling accounts, release numbers."""
    from xiaohu.cancellation.cycle import run_close_cycle

    runtime = _runtime()
    _print_report(lambda: run_close_cycle(runtime, period, show_progress=None))


@run_app.command("lifecycle")
def lifecycle(date: str = typer.Option(..., "--date", help="YYYY-MM-DD")) -> None:
    """The daily lifecycle: suspend for arrears, warn, cancel automatically, release numbers."""
    import datetime as dt

    from xiaohu.lifecycle.run import deliver_all, run_lifecycle

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        err.print(f"[red]VALIDATION_FAILED:[/red] --date {date!r}: use YYYY-MM-DD", highlight=False)
        raise typer.Exit(2) from None
    runtime = _runtime()
    _print_report(lambda: run_lifecycle(runtime, day, show_progress=None))
    deliver_all(runtime)


@run_app.command("settle")
def settle(period: str = typer.Option(..., "--period", help="YYYY-MM")) -> None:
    """Settle a month between provinces: net the dues, post the clearing; safe to repeat."""
    from xiaohu.settlement.cli import run_settle

    runtime = _runtime()
    _print_report(lambda: run_settle(runtime, period, show_progress=None))


def _print_report(run: Callable[[], Any]) -> None:
    """A run's report as JSON; a refusal (a period not ended, malformed) as its code on
    stderr, exit status 2."""
    from xiaohu.kit.errors import DomainError

    try:
        report = run()
    except DomainError as exc:
        err.print(f"[red]{exc.code}:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(2) from None
    out.print_json(data=report)


@app.command()
def scheduler(
    interval: float = typer.Option(60.0, "--interval", min=0.05, help="Seconds between ticks."),
    once: bool = typer.Option(False, "--once", help="One tick, then exit."),
) -> None:
    """Run the daily lifecycle and the monthly close-cycle at their times (README: Scheduler)."""
    from xiaohu.lifecycle.scheduler import run_scheduler

    runtime = _runtime()
    out.print(f"xiaohu scheduler: a tick every {interval:g}s ({runtime.settings.mode} mode)")
    try:
        run_scheduler(
            runtime,
            interval=interval,
            once=once,
            show_progress=None,
            emit=lambda line: out.print(line, highlight=False, soft_wrap=True),
        )
    except KeyboardInterrupt:
        out.print("xiaohu scheduler: stopped")


@run_app.command("workorders")
def workorders() -> None:
    """Flag overdue work orders and tell each owner once by SMS (the outbox); with a node
    map, on every node (a work order lives on its line's home node), the counts added up."""
    from xiaohu.cancellation.cycle import add_reports
    from xiaohu.kit.db import transaction
    from xiaohu.workorders.service import run_overdue

    def on_node(rt: Runtime) -> dict[str, int]:
        with transaction(rt.sessions) as session:
            return run_overdue(rt.context(session, actor="cli"))

    runtime = _runtime()
    reports = runtime.on_every_node(on_node)
    runtime.deliver_outbox(limit=500)
    report = add_reports(list(reports.values()))
    out.print_json(data=report if len(reports) == 1 else {**report, "nodes": reports})


@run_app.command("outbox")
def outbox() -> None:
    """Deliver every SMS, provisioning order and refund payout that is due now."""
    runtime = _runtime()
    total = 0
    while (n := runtime.deliver_outbox(limit=500)) > 0:
        total += n
    out.print(f"delivered {total} message(s)")


node_app = typer.Typer(
    help="A national deployment's nodes (XIAOHU_NODE_MAP): where provinces live.",
    no_args_is_help=True,
)
app.add_typer(node_app, name="node")


@node_app.command("move")
def node_move(
    province: str = typer.Option(..., "--province", help="two-digit province code, e.g. 44"),
    to: str = typer.Option(..., "--to", help="the node that will hold it"),
    map_file: Path | None = typer.Option(
        None, "--map", exists=True, dir_okay=False, help="the node map (default XIAOHU_NODE_MAP)"
    ),
    settle: float = typer.Option(
        2.0, "--settle", min=0.0, help="seconds for the processes to see each map change"
    ),
) -> None:
    """Move a province to another node: mark it moving (its requests answer 503), copy its
    rows in one transaction and check the counts, switch the map file, delete them on the
    source (README: Where data lives). Safe to run again after an interruption."""
    import os

    import xiaohu.models as models
    from xiaohu.national.move import MoveRefused, move_province

    if map_file is not None:
        os.environ["XIAOHU_NODE_MAP"] = str(map_file)
        get_settings.cache_clear()
    runtime = _runtime(migrate=False)
    path = runtime.nodes.source
    if path is None or not runtime.nodes.national:
        err.print("a province move needs a node map of two nodes or more (XIAOHU_NODE_MAP)")
        raise typer.Exit(2)
    try:
        report = move_province(
            runtime,
            models.metadata,
            province,
            to,
            path,
            settle=settle,
            emit=lambda line: out.print(line, highlight=False, markup=False),
        )
    except MoveRefused as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except (SQLAlchemyError, RuntimeError) as exc:  # a node down, counts that differ
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        err.print(
            f"[red]move failed:[/red] {reason[0] if reason else type(exc).__name__}; "
            "run the same command again (it starts over, or finishes what is left)",
            highlight=False,
        )
        raise typer.Exit(3) from None
    out.print_json(data=report.as_dict())


def main() -> None:
    app()
