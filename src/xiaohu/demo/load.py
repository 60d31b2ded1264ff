"""Loading the demo file, again and again, and starting afresh.

`make demo` loads the demo file each time it runs. A plain re-import would refuse the numbers
the user cancelled in an earlier try (a cancelled number is never imported again) and would
put back the arrears they paid; so the demo loads only the numbers the database does not hold
yet and leaves the others as the earlier tries left them. `reset` removes the demo database.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from xiaohu.demo.stores import RosterLoaded, load_roster
from xiaohu.intake.importer import import_items, import_path
from xiaohu.intake.record import FieldError
from xiaohu.intake.run import ImportResult
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime


@dataclass(frozen=True)
class Loaded:
    result: ImportResult  # what was imported now
    kept: int  # records whose number the database already held: left as they were
    roster: RosterLoaded | None = None  # the stores and staff of the lines' provinces


def load(runtime: Runtime, path: Path, *, show_progress: bool | None = None) -> Loaded:
    """Import the records of `path` whose numbers are new here, then the demo stores and staff
    of every province the lines are in (`demo.stores`); when a record is invalid, nothing is
    written and the result lists the errors."""
    loaded = _load_lines(runtime, path, show_progress=show_progress)
    if loaded.result.errors:
        return loaded
    provinces: set[str] = set()
    for rt in runtime.each_node():  # a node map: lines on their home's node
        with transaction(rt.sessions, readonly=True) as session:
            provinces.update(session.scalars(select(Line.province_code).distinct()))
    roster: RosterLoaded | None = None
    for rt in runtime.each_node():  # stores and staff on every node, each in its own
        with transaction(rt.sessions) as session:
            added = load_roster(rt.context(session, actor="cli:demo-load"), provinces)
        roster = roster or added
    return dataclasses.replace(loaded, roster=roster)


def _load_lines(runtime: Runtime, path: Path, *, show_progress: bool | None) -> Loaded:
    held: set[str] = set()
    for rt in runtime.each_node():
        with transaction(rt.sessions, readonly=True) as session:
            held.update(session.scalars(select(Line.msisdn)))
    if not held:  # the first try: the file's fast path
        return Loaded(import_path(runtime, path, show_progress=show_progress), kept=0)
    items: list[tuple[int, object]] = []
    kept = 0
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                msisdn = json.loads(raw).get("msisdn")
            except (ValueError, AttributeError):
                msisdn = None  # the importer reports it, with its line number
            if msisdn in held:
                kept += 1
            else:
                items.append((n, raw))
    if not items:
        return Loaded(ImportResult(), kept)
    try:
        with transaction(runtime.sessions) as session:
            ctx = runtime.context(session, actor="cli:demo-load")
            return Loaded(import_items(ctx, items, source=path.name), kept)
    except DomainError as exc:  # invalid records: nothing written, report them as a file's
        if exc.code != "IMPORT_INVALID":
            raise
        errors = [FieldError(**e) for e in exc.errors or []]
        return Loaded(ImportResult(invalid=len(errors), errors=errors), kept)


class NotResettable(ValueError):
    """The database is not a SQLite file the demo can simply remove."""


def reset(database_url: str) -> list[Path]:
    """Remove the SQLite demo database (and its journal files); the files removed."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise NotResettable(
            "demo-reset removes a SQLite demo database file only; drop this database yourself"
        )
    main = Path(str(url.database))
    removed = []
    for path in (main, *(main.with_name(main.name + s) for s in ("-wal", "-shm", "-journal"))):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
