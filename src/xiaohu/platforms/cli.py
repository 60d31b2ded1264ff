"""`xiaohu platforms …`: the internet platforms that may ask the recycled-number check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.platforms import service

if TYPE_CHECKING:
    from xiaohu.billing.refunds_cli import Shell

platforms_app = typer.Typer(
    help="Internet platforms and their API keys for the recycled-number check.",
    no_args_is_help=True,
)


def _refuse(shell: Shell, exc: DomainError) -> typer.Exit:
    shell.err.print(f"[red]{exc.code}:[/red] {exc.detail}", highlight=False)
    return typer.Exit(2)


@platforms_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="the platform's name (unique)"),
    rate: int | None = typer.Option(
        None, "--rate", min=1, max=100_000, help="requests a minute (default: the policy's)"
    ),
) -> None:
    """Register a platform and print its API key: shown this once, never stored."""
    shell: Shell = ctx.obj
    runtime = shell.runtime()
    try:
        with transaction(runtime.sessions) as session:
            platform, key = service.add(
                runtime.context(session, actor="cli"), name, requests_per_minute=rate
            )
            hint = platform.key_hint
    except DomainError as exc:
        raise _refuse(shell, exc) from None
    shell.out.print(f"platform {name!r} added; its API key (shown once, keep it safe):")
    shell.out.print(key, highlight=False, soft_wrap=True)
    shell.err.print(f"key hint: {hint}", highlight=False)


@platforms_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every platform: key hint, rate, added, revoked."""
    shell: Shell = ctx.obj
    runtime = shell.runtime()
    with transaction(runtime.sessions, readonly=True) as session:
        default = runtime.policy.defaults.platform_requests_per_minute
        rows = service.list_platforms(session)
        table = Table(title=f"Platforms: {len(rows)}")
        for column in ("name", "key hint", "requests/min", "added", "revoked"):
            table.add_column(column, overflow="fold")
        for p in rows:
            rate = str(p.requests_per_minute) if p.requests_per_minute else f"{default} (policy)"
            table.add_row(
                p.name, p.key_hint, rate, p.created_at.isoformat(timespec="seconds"),
                p.revoked_at.isoformat(timespec="seconds") if p.revoked_at else "",
            )  # fmt: skip
    shell.out.print(table)


@platforms_app.command("revoke")
def revoke(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Revoke the platform's key: it stops working at once."""
    shell: Shell = ctx.obj
    runtime = shell.runtime()
    try:
        with transaction(runtime.sessions) as session:
            p = service.revoke(runtime.context(session, actor="cli"), name)
            at = p.revoked_at.isoformat(timespec="seconds") if p.revoked_at else ""
    except DomainError as exc:
        raise _refuse(shell, exc) from None
    shell.out.print(f"platform {name!r} revoked at {at}")
