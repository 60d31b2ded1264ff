"""`xiaohu refunds …`: the operator's view of refund payouts, and sending failed ones again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from xiaohu.billing import payouts
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.money import yuan

if TYPE_CHECKING:  # not imported at run time: `xiaohu --version` need not load the runtime
    from xiaohu.runtime import Runtime


@dataclass(frozen=True)
class Shell:
    """What the `xiaohu` command lends its subcommands (as the click context's `obj`): the
    runtime, built with one-line errors, and its consoles."""

    runtime: Callable[[], Runtime]
    out: Console
    err: Console


refunds_app = typer.Typer(
    help="Refund payouts: list them, send failed ones again.", no_args_is_help=True
)


@refunds_app.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending | paid | failed"),
) -> None:
    """Refunds, oldest first: amount, number, status, declines and the last error."""
    shell: Shell = ctx.obj
    err, out = shell.err, shell.out
    if status not in (None, "pending", "paid", "failed"):
        err.print(f"--status must be pending, paid or failed, not {status!r}")
        raise typer.Exit(2)
    runtime = shell.runtime()
    with transaction(runtime.sessions, readonly=True) as session:
        rows = payouts.list_refunds(session, status)
        table = Table(title=f"Refunds ({status or 'all'}): {len(rows)}")
        for column in ("id", "number", "kind", "amount", "status", "declines", "created", "error"):
            table.add_column(column, overflow="fold")
        for r, msisdn in rows:
            table.add_row(
                r.id, msisdn, r.kind, yuan(r.amount_fen), r.status, str(r.declines),
                r.created_at.isoformat(timespec="seconds"), r.last_error or "",
            )  # fmt: skip
    out.print(table)


@refunds_app.command("retry")
def retry(
    ctx: typer.Context,
    refund_id: str | None = typer.Argument(None, help="the refund to send again"),
    all_failed: bool = typer.Option(False, "--all-failed", help="every failed refund"),
) -> None:
    """Send failed refunds to the payment gateway again (after the cause is fixed)."""
    shell: Shell = ctx.obj
    err, out = shell.err, shell.out
    if (refund_id is None) == (not all_failed):
        err.print("name one refund ID, or --all-failed")
        raise typer.Exit(2)
    runtime = shell.runtime()
    try:
        with transaction(runtime.sessions) as session:
            ids = payouts.failed_ids(session) if all_failed else [str(refund_id)]
            queued = payouts.retry(session, ids, runtime.clock_for(session).now())
    except DomainError as exc:
        err.print(f"[red]{exc.code}:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None
    while runtime.deliver_outbox(limit=500) > 0:
        pass
    with transaction(runtime.sessions, readonly=True) as session:
        statuses = payouts.statuses(session, ids)
    paid = sum(1 for s in statuses.values() if s == "paid")
    out.print(f"sent {queued} refund(s) again: {paid} paid, {queued - paid} not yet")
    for refund_id_, status in statuses.items():
        out.print(f"{refund_id_}: {status}", highlight=False)
