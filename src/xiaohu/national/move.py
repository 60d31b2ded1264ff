"""Moving a province to another node (`xiaohu node move --province 44 --to south`).

1. Mark the province as moving in the node map file: every process reads the file again
   when it changes (`runtime.MapWatch`, within a second), and the province's requests
   answer 503 NODE_UNAVAILABLE meanwhile, so nothing is written on the source while it is
   copied. The command waits `settle` seconds for the processes (and requests under way)
   to see it.
2. Copy every row of the province (`move_rows`) from the source node to the target, in one
   transaction on the target, ids kept (the nodes' id blocks never collide), then count the
   rows on both sides: a difference rolls the copy back and lifts the mark.
3. Switch the map: the province on the target, the mark lifted (the file replaced whole, so
   a process never reads half of it).
4. Delete the province's rows on the source, in one transaction.

Interrupted after 3, the province is served by the target; step 4 is what remains, and
running the same command again does it (`cleanup`). Interrupted before 3, the source still
serves the province (after the mark is lifted by hand or by running the move again) and
the target's partial copy is replaced by the next try's.

The broker needs nothing: each province has its own queue, consumed by whichever node holds
the province; the inbox rows move with the province, so a message delivered again after the
move is still recognised, and the outbox rows the source had not delivered move too.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from xiaohu import nodemap
from xiaohu.national.move_rows import APPEND_ONLY, OWNERS, Part, province_parts, self_parent
from xiaohu.nodemap import NodeMap
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Runtime

CHUNK = 2000  # rows read from the source and written to the target at a time
SETTLE_SECONDS = 2.0  # processes look at the map file at least once a second


class MoveRefused(ValueError):
    """A move that cannot start; the message says why."""


@dataclass
class MoveReport:
    province: str
    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "province": self.province,
            "from": self.source,
            "to": self.target,
            "copied": self.copied,
            "deleted": self.deleted,
        }


def write_map(path: Path, node_map: NodeMap) -> None:
    """Replace the map file whole: written beside it, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(nodemap.dump(node_map))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def move_province(
    runtime: Runtime,
    metadata: MetaData,
    province: str,
    target: str,
    map_path: Path,
    *,
    settle: float = SETTLE_SECONDS,
    emit: Callable[[str], None] = lambda _line: None,
) -> MoveReport:
    """Move `province` to node `target` (steps in the module's docstring)."""
    before = nodemap.load(map_path)
    if province not in PROVINCES:
        raise MoveRefused(f"unknown province {province!r}")
    if target not in before.names():
        raise MoveRefused(f"no node {target!r} in {map_path} ({', '.join(before.names())})")
    for node in before:
        if runtime.engine_of(node.name).dialect.name != "postgresql":
            raise MoveRefused("a province moves between PostgreSQL nodes only")
    source = before.node_of(province).name
    parts = province_parts(metadata, province)
    report = MoveReport(province, source, target)
    if source == target:
        emit(f"province {province} is on node {target} already: removing what other nodes left")
        for name in before.names():
            if name != target:
                deleted = delete_province(runtime, name, parts)
                for table, n in deleted.items():
                    report.deleted[table] = report.deleted.get(table, 0) + n
        return report

    write_map(map_path, before.with_moving(before.moving | {province}))
    emit(f"province {province} marked as moving: its requests answer 503 until the switch")
    time.sleep(settle)
    try:
        report.copied = copy_province(runtime, source, target, parts, emit)
    except BaseException:
        write_map(map_path, before)  # the source keeps serving the province
        emit(f"copy failed: province {province} stays on node {source}, mark lifted")
        raise
    write_map(map_path, before.with_province_on(province, target))
    emit(f"map switched: province {province} is on node {target}")
    time.sleep(settle)  # requests begun on the source before the switch end
    report.deleted = delete_province(runtime, source, parts)
    emit(f"rows of province {province} deleted on node {source}")
    return report


def copy_province(
    runtime: Runtime, source: str, target: str, parts: list[Part], emit: Callable[[str], None]
) -> dict[str, int]:
    """Copy the province's rows in one transaction on the target, after clearing whatever an
    interrupted earlier try left there; the counts are checked before it commits."""
    copied: dict[str, int] = {}
    src_engine = runtime.engine_of(source).execution_options(
        isolation_level="REPEATABLE READ"  # one snapshot of the source for every table
    )
    with src_engine.connect() as src, runtime.engine_of(target).begin() as dst:
        src.execute(select(1))
        _delete(dst, parts)
        for part in parts:
            n = 0
            for rows in _read(src, part):
                _write(dst, part, rows)
                n += len(rows)
            copied[part.name] = n
            if n:
                emit(f"  {part.name}: {n} row(s) copied")
        for part in parts:
            there = dst.execute(select(func.count()).select_from(part.table).where(part.where))
            here = src.execute(select(func.count()).select_from(part.table).where(part.where))
            there_n, here_n = there.scalar_one(), here.scalar_one()
            # A shared row (an owner, an account) may have been on the target already.
            if there_n != here_n if part.delete else there_n < here_n:
                raise RuntimeError(
                    f"{part.name}: {here_n} row(s) on {source}, {there_n} on {target} after the "
                    "copy; nothing is kept on the target"
                )
        src.rollback()
    return copied


def _read(src: Connection, part: Part) -> Iterator[list[dict[str, Any]]]:
    stmt = select(part.table).where(part.where)
    parent = self_parent(part.table)
    if parent is not None:  # the rows pointed at first
        stmt = stmt.order_by(part.table.c[parent[0]].is_not(None), *part.table.primary_key)
    else:
        stmt = stmt.order_by(*part.table.primary_key)
    result = src.execution_options(stream_results=True, yield_per=CHUNK).execute(stmt)
    for chunk in result.mappings().partitions(CHUNK):
        yield [dict(row) for row in chunk]


def _write(dst: Connection, part: Part, rows: list[dict[str, Any]]) -> None:
    table: Table = part.table
    if part.delete:
        dst.execute(insert(table), rows)
    else:  # shared rows (an owner, a ledger account) may be on the target already
        dst.execute(pg_insert(table).on_conflict_do_nothing(), rows)


def _delete(conn: Connection, parts: list[Part]) -> dict[str, int]:
    """The province's rows deleted, children first; owners no line points at any more too."""
    deleted: dict[str, int] = {}
    owners = next((p for p in parts if p.name == OWNERS), None)
    orphans: list[int] = []
    if owners is not None:
        orphans = list(conn.scalars(select(owners.table.c.id).where(owners.where)))
    for part in reversed(parts):
        if not part.delete:
            continue
        trigger = APPEND_ONLY.get(part.name)
        if trigger is not None:
            conn.execute(text(f'ALTER TABLE "{part.name}" DISABLE TRIGGER "{trigger}"'))
        n = conn.execute(delete(part.table).where(part.where)).rowcount
        if trigger is not None:
            conn.execute(text(f'ALTER TABLE "{part.name}" ENABLE TRIGGER "{trigger}"'))
        if n:
            deleted[part.name] = n
    if owners is not None and orphans:
        lines = owners.table.metadata.tables["lines"]
        still = select(lines.c.owner_id).where(lines.c.owner_id.is_not(None))
        n = 0
        for start in range(0, len(orphans), CHUNK):
            ids = orphans[start : start + CHUNK]
            n += conn.execute(
                delete(owners.table).where(
                    owners.table.c.id.in_(ids), ~owners.table.c.id.in_(still)
                )
            ).rowcount
        if n:
            deleted[OWNERS] = n
    return deleted


def delete_province(runtime: Runtime, node: str, parts: list[Part]) -> dict[str, int]:
    """Delete the province's rows on `node` (which no longer holds it), in one transaction."""
    with runtime.engine_of(node).begin() as conn:
        return _delete(conn, parts)
