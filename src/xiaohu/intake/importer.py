"""Loading lines from the previous system: JSON Lines in, owners, lines, bills, contracts out.

Built for millions of records: records are validated (pure, `intake.rules`) and then written a
batch at a time with bulk statements (PostgreSQL `COPY`, SQLite `executemany`), ids handed out
in advance, existing rows looked up a batch at a time. Opening balances and unpaid bills go to
the ledger in one journal transaction per batch, so the trial balance holds from the first
import; re-importing a number posts only the difference. One audit event per import.

Without `skip_invalid` nothing is written when any record is invalid.

The entry points live here. Checking (and its worker processes) is in `check`, one
run's state in `run`, a batch's writes in `batch` (with `children`,
`groups`, `postings`), the engine-level bulk path in `bulk_write`.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from xiaohu.intake.bulk_write import SQLITE_CACHE_KIB
from xiaohu.intake.check import (
    Checked,
    Sealed,
    check_one,
    checked_batches,
    count_lines,
    init_worker,
)
from xiaohu.intake.nodes import NodeImports
from xiaohu.intake.rules import FieldError, LineRecord
from xiaohu.intake.run import ERROR_LIMIT, Importer, ImportResult
from xiaohu.kit.errors import DomainError
from xiaohu.kit.progress import progress
from xiaohu.runtime import Context, Runtime

__all__ = [
    "BATCH",
    "ERROR_CAP",
    "ERROR_LIMIT",
    "SQLITE_CACHE_KIB",
    "ImportResult",
    "default_workers",
    "import_items",
    "import_path",
    "import_records",
]

BATCH = 5000
ERROR_CAP = 1000  # errors an API import reports before it stops checking


def import_records(
    ctx: Context, records: list[dict[str, Any]], *, skip_invalid: bool = False, source: str = "api"
) -> ImportResult:
    """Validate and write decoded records in the caller's session (flush only).

    With invalid records and not `skip_invalid`: raise IMPORT_INVALID listing every error;
    nothing is written. Records are numbered from 1 (`line`), as in a file.
    """
    items: list[tuple[int, object]] = list(enumerate(records, start=1))
    return import_items(ctx, items, skip_invalid=skip_invalid, source=source)


def import_items(
    ctx: Context,
    items: Iterable[tuple[int, object]],
    *,
    skip_invalid: bool = False,
    source: str = "api",
    error_cap: int = ERROR_CAP,
) -> ImportResult:
    """Like `import_records`, for (line number, decoded value or raw JSON text) pairs, read
    once and in order (a generator will do).

    The records are checked first, without the database, so a body of invalid records never
    holds the write lock (SQLite) while it is checked; only the valid records are kept. Once
    `error_cap` errors are found checking stops, whether or not `skip_invalid`: the records
    not checked are counted (`records_unchecked`) and the import is refused.
    """
    it = iter(items)
    valid: list[Checked] = []
    errors: list[FieldError] = []
    invalid = 0
    for line, value in it:
        record, problems, sealed = check_one(line, value, ctx.cipher, ctx.settings.key)
        if problems:
            invalid += 1
            errors.extend(problems[: error_cap - len(errors)])
            if len(errors) >= error_cap:
                unchecked = sum(1 for _ in it)
                raise DomainError(
                    "IMPORT_INVALID",
                    f"checking stopped after {error_cap} errors, {unchecked} record(s) left "
                    "unchecked; nothing was written",
                    errors=[e.as_dict() for e in errors],
                    records_unchecked=unchecked,
                )
        else:
            valid.append((record, problems, sealed))
    if errors and not skip_invalid:
        raise invalid_import(invalid, errors)
    # Valid so far: now the checks against the file and the database, then the writes.
    ctx.session.flush()
    if not ctx.runtime.nodes.national:
        imp = Importer(ctx)
        imp.result.invalid, imp.result.errors = invalid, errors
        accepted: list[tuple[LineRecord, Sealed, Any]] = []
        for start in range(0, len(valid), BATCH):
            accepted.extend(imp.accept(valid[start : start + BATCH]))
        if imp.result.errors and not skip_invalid:
            raise invalid_import(imp.result.invalid, imp.result.errors)
        for start in range(0, len(accepted), BATCH):
            imp.write(accepted[start : start + BATCH])
        result = imp.finish(source=source)
        ctx.session.expire_all()  # ORM objects loaded earlier must not shadow the bulk writes
        return result
    return _import_on_nodes(ctx, valid, invalid, errors, skip_invalid=skip_invalid, source=source)


def _import_on_nodes(
    ctx: Context,
    valid: list[Checked],
    invalid: int,
    errors: list[FieldError],
    *,
    skip_invalid: bool,
    source: str,
) -> ImportResult:
    """`import_items` with a node map: each node's share written on it, the caller's node in
    the caller's session, every other node in a transaction of its own committed here once
    every share is written (an import is refused before any node commits)."""
    runtime = ctx.runtime
    own: dict[str, Session] = {}
    try:
        importers: dict[str, Importer] = {}
        for name in runtime.nodes.names():
            if name == runtime.node:
                importers[name] = Importer(ctx)
            else:
                session = own[name] = runtime.sessions_of(name)()
                importers[name] = Importer(runtime.on_node(name).context(session, ctx.actor))
        imports = NodeImports(runtime, importers)
        imports.result.invalid, imports.result.errors = invalid, errors
        accepted: list[dict[str, list[tuple[LineRecord, Sealed, Any]]]] = [
            imports.accept(valid[start : start + BATCH]) for start in range(0, len(valid), BATCH)
        ]
        if imports.result.errors and not skip_invalid:
            raise invalid_import(imports.result.invalid, imports.result.errors)
        for shares in accepted:
            imports.write(shares)
        result = imports.finish(source=source)
        for session in own.values():
            session.commit()
    except BaseException:
        for session in own.values():
            session.rollback()
        raise
    finally:
        for session in own.values():
            session.close()
    ctx.session.expire_all()  # ORM objects loaded earlier must not shadow the bulk writes
    return result


def invalid_import(invalid: int, errors: list[FieldError]) -> DomainError:
    return DomainError(
        "IMPORT_INVALID",
        f"{invalid} invalid record(s); nothing was written",
        errors=[e.as_dict() for e in sorted(errors, key=lambda e: e.line)],
        records_unchecked=0,
    )


def default_workers() -> int:
    """Processes that validate while the main one writes: one a core, up to four. Handing
    records between processes costs about a third more CPU in all, yet on an idle 2-core
    machine two workers import a third faster than none (SQLite 10.8k → 14.3k lines/s,
    PostgreSQL 6.4k → 8.5k on 200,000 lines); on a busy machine pass `workers=1`."""
    return max(1, min(4, os.cpu_count() or 1))


def import_path(
    runtime: Runtime,
    path: Path | str,
    *,
    skip_invalid: bool = False,
    show_progress: bool | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import a JSON Lines file in one transaction.

    Records are validated (in worker processes when there are cores to spare, see
    `default_workers`) and written a batch at a time. On the first invalid record (without
    `skip_invalid`) writing stops, checking goes on to report every error, and the
    transaction is rolled back: nothing is written.
    """
    path = Path(path)
    total = count_lines(path)
    n_workers = workers if workers is not None else default_workers()
    pool: Executor | None = None
    if n_workers > 1 and total > 2 * BATCH:
        pool = ProcessPoolExecutor(
            n_workers, initializer=init_worker, initargs=(runtime.settings.key,)
        )
    # One session per node (one node: the runtime's own); each record is written on the node
    # of its home province (`intake.nodes`), every node committed once the file is written.
    sessions = {rt.node: rt.sessions() for rt in runtime.each_node()}
    # Millions of long-lived small objects (the per-file checks) make every full collection
    # rescan them all; nothing here forms reference cycles, so collect once at the end.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    imports: NodeImports | None = None
    try:
        imports = NodeImports(
            runtime,
            {
                name: Importer(runtime.on_node(name).context(session, actor="cli:import"))
                for name, session in sessions.items()
            },
        )
        for _, imp in imports:
            imp.bulk.prepare()
        writing = True
        with progress(f"importing {path.name}", total, enabled=show_progress) as tick:
            for checked in checked_batches(path, pool, runtime, BATCH):
                accepted = imports.accept(checked)
                if imports.result.errors and not skip_invalid:
                    writing = False
                if writing:
                    imports.write(accepted)
                tick(len(checked))
        for _, imp in imports:
            imp.bulk.close()
        if imports.result.errors and not skip_invalid:
            for session in sessions.values():
                session.rollback()
            imports.result.imported = imports.result.created = imports.result.updated = 0
            return imports.result
        result = imports.finish(source=path.name)
        for session in sessions.values():
            session.commit()
        return result
    except BaseException:
        if imports is not None:
            for _, imp in imports:
                with contextlib.suppress(BaseException):  # the first error is the one to report
                    imp.bulk.close()
        for session in sessions.values():
            session.rollback()
        raise
    finally:
        for session in sessions.values():
            session.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if gc_was_enabled:
            gc.enable()
            gc.collect()
