"""`xiaohu stores drawer`: a store drawer's end of day, printed for the counter's count."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from xiaohu.billing.refunds_cli import Shell
from xiaohu.counter import drawer as drawer_report
from xiaohu.counter.schemas import DrawerReportOut
from xiaohu.kit.clock import SHANGHAI, local_date
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan
from xiaohu.regions.provinces import PROVINCES


def drawer(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", help="the store's code, e.g. 44-GZ-0001"),
    date: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (Asia/Shanghai); today"),
) -> None:
    """The drawer's day: opening, each movement, closing, and whether it agrees with the
    ledger to the fen (exit status 1 when it does not)."""
    shell: Shell = ctx.obj
    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        shell.err.print(f"--date must be YYYY-MM-DD, not {date!r}")
        raise typer.Exit(2) from None
    runtime = shell.runtime()
    # The drawer is in the books of the store's province (a code begins with it), on its node.
    province = store[:2]
    sessions = runtime.sessions_for(province) if province in PROVINCES else runtime.sessions
    try:
        with transaction(sessions, readonly=True) as session:
            c = runtime.context(session, actor="cli")
            report = drawer_report.report(c, store, day or local_date(c.now()))
    except DomainError as exc:
        shell.err.print(f"[red]{exc.code}:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None
    shell.out.print(table(report))
    if not report.reconciled:
        raise typer.Exit(1)


def table(report: DrawerReportOut) -> Table:
    """The report as a Rich table: the movements, then the totals in the caption."""
    t = Table(title=f"Drawer {report.store_code} on {report.date.isoformat()}")
    for column in ("time", "kind", "number", "amount", "reference"):
        t.add_column(column, overflow="fold")
    for m in report.movements:
        t.add_row(
            m.at.astimezone(SHANGHAI).strftime("%H:%M:%S"),
            m.kind,
            m.msisdn_masked or "",
            yuan(m.amount_fen),
            m.reference or "",
        )
    state = "reconciled" if report.reconciled else "[red]NOT reconciled[/red]"
    t.caption = (
        f"opening {yuan(report.opening_fen)} + in {yuan(report.cash_in_fen)} − out "
        f"{yuan(report.cash_out_fen)} = closing {yuan(report.closing_fen)}; ledger "
        f"{yuan(report.ledger_balance_fen)}: {state}"
    )
    return t
