"""Where data lives: every node migrated and given its id block, and each node's health.

Lines live on the node of their home province (the imports split a file by it,
`intake.nodes`); reference data (stores, staff, the sandbox clock) on every node, so a
request never leaves its node to read them; national data (platforms, settlement runs) on
the default node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from xiaohu.kit.migrate import upgrade
from xiaohu.national.idblocks import set_id_block
from xiaohu.runtime import Runtime


@dataclass(frozen=True)
class Migrated:
    node: str
    ok: bool
    detail: str  # what was done, or why it failed


def migrate_every_node(runtime: Runtime) -> Iterator[Migrated]:
    """Migrate each node of the map in turn, then set its id block (PostgreSQL). A node that
    cannot be reached is reported and the others are still migrated: run it again once the
    node is back (both steps are safe to repeat)."""
    for node in runtime.nodes:
        engine = runtime.engine_of(node.name)
        try:
            upgrade(engine)
            moved = set_id_block(engine, node.block) if runtime.nodes.national else 0
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()
            yield Migrated(node.name, False, reason[0] if reason else type(exc).__name__)
            continue
        block = f", id block {node.block}" if runtime.nodes.national else ""
        moved_note = f" ({moved} sequence(s) moved to it)" if moved else ""
        yield Migrated(node.name, True, f"at the latest schema{block}{moved_note}")


def node_health(runtime: Runtime) -> dict[str, str]:
    """Each node: `ok` when its database answers, else `unreachable`."""
    health: dict[str, str] = {}
    for name in runtime.nodes.names():
        try:
            engine = runtime.engine_of(name)
            with engine.connect().execution_options(xiaohu_readonly=True) as conn:
                conn.execute(text("SELECT 1"))
            health[name] = "ok"
        except SQLAlchemyError:
            health[name] = "unreachable"
    return health
