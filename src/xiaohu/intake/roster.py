"""Importing stores and staff: the same formats (a JSON Lines file, a sandbox body), errors
(`line N: field: reason`) and all-or-nothing rule as the line import, on the stores' and the
staff's own rules (`stores.rules`, `staff.rules`) and writes (`stores.service`,
`staff.service`).

An operator has thousands of stores and staff, not millions: records are decoded and checked
one by one, then checked against the file (a code or login twice) and the database, and
written in one go, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from xiaohu.intake.check import count_lines, numbered_lines, parse_json_line
from xiaohu.intake.importer import ERROR_CAP, invalid_import
from xiaohu.intake.run import ImportResult
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.import_records import FieldError
from xiaohu.kit.progress import progress
from xiaohu.runtime import Context, Runtime
from xiaohu.staff import rules as staff_rules
from xiaohu.staff import service as staff_service
from xiaohu.stores import rules as store_rules
from xiaohu.stores import service as store_service


@dataclass(frozen=True)
class Roster:
    """One kind of record: how to check one, check a batch against the database, write them."""

    what: str  # "stores" | "staff", for messages and the CLI
    key_field: str  # the field that names a record: a second one in a file is an error
    validate: Callable[[object, int], tuple[Any, list[FieldError]]]
    problems: Callable[[Context, Sequence[Any]], list[FieldError]]
    write: Callable[[Context, Sequence[Any], str], tuple[int, int]]


STORES = Roster(
    "stores", "code", store_rules.validate_store, store_service.problems, store_service.write
)


def _staff_problems(ctx: Context, records: Sequence[staff_rules.StaffRecord]) -> list[FieldError]:
    """The staff's checks, told the province of each store their clerks name (staff sits
    beside stores, not above them)."""
    stores = store_service.provinces_of(ctx, (r.store_code for r in records if r.store_code))
    return staff_service.problems(ctx, records, stores)


STAFF = Roster("staff", "login", staff_rules.validate_staff, _staff_problems, staff_service.write)


def import_items(
    ctx: Context,
    roster: Roster,
    items: Iterable[tuple[int, object]],
    *,
    skip_invalid: bool = False,
    source: str = "api",
    error_cap: int = ERROR_CAP,
    tick: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check and write (line number, decoded value or raw JSON text) pairs in the caller's
    session (flush only). With invalid records and not `skip_invalid`: IMPORT_INVALID listing
    every error (up to `error_cap`), nothing written."""
    valid: list[Any] = []
    errors: list[FieldError] = []
    invalid_lines: set[int] = set()
    first: dict[str, int] = {}
    for line, value in items:
        if tick is not None:
            tick(1)
        record, found = _checked(roster, line, value)
        if record is not None:
            seen = first.setdefault(record.key, line)
            if seen != line:
                reason = f"{record.key} already appears on line {seen}"
                record, found = None, [FieldError(line, roster.key_field, reason)]
        if found:
            invalid_lines.add(line)
            errors.extend(found[: max(0, error_cap - len(errors))])
            if len(errors) >= error_cap:
                raise invalid_import(len(invalid_lines), errors)
        else:
            valid.append(record)
    against_db = roster.problems(ctx, valid) if valid else []
    if against_db:
        invalid_lines.update(e.line for e in against_db)
        errors.extend(against_db)
        valid = [r for r in valid if r.line not in invalid_lines]
    result = ImportResult(invalid=len(invalid_lines), skipped=len(invalid_lines), errors=errors)
    if errors and not skip_invalid:
        raise invalid_import(len(invalid_lines), errors)
    if valid:
        result.created, result.updated = roster.write(ctx, valid, source)
        result.imported = len(valid)
    return result


def import_on_every_node(
    ctx: Context,
    roster: Roster,
    items: Iterable[tuple[int, object]],
    *,
    skip_invalid: bool = False,
    source: str = "api",
    tick: Callable[[int], None] | None = None,
) -> ImportResult:
    """`import_items` in the caller's session, then, with a node map, on every other node in
    a transaction of its own: stores and staff are read on every node (a request never
    leaves its node). Refused on the caller's node (IMPORT_INVALID), nothing is written
    anywhere. A node that cannot be reached is reported in `nodes`; the import writes by key
    (a code, a login), so running it again repairs that node."""
    runtime = ctx.runtime
    if not runtime.nodes.national:
        return import_items(ctx, roster, items, skip_invalid=skip_invalid, source=source, tick=tick)
    records = list(items)
    result = import_items(ctx, roster, records, skip_invalid=skip_invalid, source=source, tick=tick)
    result.nodes[runtime.node] = _said(result)
    for name in runtime.nodes.names():
        if name == runtime.node:
            continue
        try:
            with transaction(runtime.sessions_of(name)) as session:
                there = runtime.on_node(name).context(session, actor=ctx.actor)
                done = import_items(
                    there, roster, records, skip_invalid=skip_invalid, source=source
                )
            result.nodes[name] = _said(done)
        except SQLAlchemyError:
            result.nodes[name] = "unreachable: run the import again once it is back"
        except DomainError as exc:  # the node disagrees (a clerk's store missing there)
            result.nodes[name] = f"refused: {exc.code}: {exc.detail}"
    return result


def _said(result: ImportResult) -> str:
    return f"ok: {result.created} new, {result.updated} updated"


def _checked(roster: Roster, line: int, value: object) -> tuple[Any, list[FieldError]]:
    """One record decoded (raw JSON text) and checked on its own."""
    if isinstance(value, str | bytes):
        value, problem = parse_json_line(value, line)
        if problem is not None:
            return None, [problem]
    return roster.validate(value, line)


def import_file(
    runtime: Runtime,
    roster: Roster,
    path: Path | str,
    *,
    skip_invalid: bool = False,
    show_progress: bool | None = None,
) -> ImportResult:
    """Import a JSON Lines file in one transaction; with invalid records (and not
    `skip_invalid`) nothing is written and the result lists the errors."""
    path = Path(path)
    try:
        with (
            progress(f"importing {path.name}", count_lines(path), enabled=show_progress) as tick,
            transaction(runtime.sessions) as session,
        ):
            ctx = runtime.context(session, actor=f"cli:{roster.what}-import")
            return import_on_every_node(
                ctx,
                roster,
                numbered_lines(path),
                skip_invalid=skip_invalid,
                source=path.name,
                tick=tick,
            )
    except DomainError as exc:
        if exc.code != "IMPORT_INVALID":
            raise
        errors = [FieldError(**e) for e in exc.errors or []]
        return ImportResult(invalid=len({e.line for e in errors}), errors=errors)
