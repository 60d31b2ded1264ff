"""One import run inside the caller's session: valid records are checked against the file so
far and the database, written a batch at a time, counted, and audited once at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from xiaohu.audit.service import append as audit_append
from xiaohu.intake.batch import BatchWriter
from xiaohu.intake.bulk_write import BulkWriter, among, by_type
from xiaohu.intake.check import Checked, Sealed
from xiaohu.intake.rules import FieldError, FileChecks, LineRecord
from xiaohu.kit.clock import local_date, period_of
from xiaohu.lines.models import Bundle, FamilyGroup, Line, Owner
from xiaohu.runtime import Context

ERROR_LIMIT = 10_000  # errors kept for the report; counting goes on

_owners: Table = Owner.__table__  # type: ignore[assignment]
_lines: Table = Line.__table__  # type: ignore[assignment]
_bundles: Table = Bundle.__table__  # type: ignore[assignment]
_families: Table = FamilyGroup.__table__  # type: ignore[assignment]


@dataclass
class ImportResult:
    imported: int = 0  # written: created + updated
    created: int = 0
    updated: int = 0
    skipped: int = 0  # invalid records left out (with skip_invalid)
    invalid: int = 0  # invalid records, counted even past ERROR_LIMIT
    errors: list[FieldError] = field(default_factory=list)
    # National deployment: what each node did (`ok ...` or why not), in the map's order.
    nodes: dict[str, str] = field(default_factory=dict)


class Importer:
    """One import run inside the caller's session: `accept` batches in file order, then
    `finish`. Writes happen in `write`; the caller decides whether to commit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.session: Session = ctx.session
        self.now = ctx.now()
        self.period = period_of(local_date(self.now))
        # An import over several nodes shares one set of file checks and one result between
        # the nodes' importers (`intake.nodes`); `own` counts what this node wrote.
        self.checks = FileChecks(
            max_lines_per_id=ctx.runtime.policy.defaults.max_lines_per_id,
            today=local_date(self.now),
        )
        self.result = ImportResult()
        self.own = ImportResult()
        self.provinces: dict[str, int] = {}
        self.pg = self.session.get_bind().dialect.name == "postgresql"
        # Owners written or found by this import, so later batches need not look them up.
        self.owner_ids: dict[tuple[str, str], int] = {}
        # The first load into an empty database (an operator's migration, the demo) has
        # nothing to look up: no number can exist yet except this file's, and the file
        # checks already refuse a number twice.
        conn = self.session.connection()
        self.fresh = all(
            conn.execute(select(t.c.id).limit(1)).first() is None
            for t in (_lines, _owners, _bundles, _families)
        )
        self.bundles_seen: set[str] = set()  # groups written by this import (fresh mode)
        self.families_seen: set[str] = set()
        self.accounts_ready: set[str] = set()
        self.bulk = BulkWriter(self.session, self.pg)

    def _among(self, column: Any, values: Iterable[Any]) -> Any:
        return among(column, values, self.pg)

    # ---- checking

    def accept(self, items: Sequence[Checked]) -> list[tuple[LineRecord, Sealed, Any]]:
        """Record the errors of a batch; return the records that pass with their database row
        (None for a new number)."""
        keep, sealed_of, existing = self.screen(items)
        if not keep:
            return []

        def db_lines_of(records: list[LineRecord]) -> dict[str, frozenset[str]]:
            return self.lines_under_ids(records, sealed_of)

        ok, errors = self.checks.check(keep, db_lines_of)
        self._error(errors)
        return [(r, sealed_of[r.line], existing.get(r.msisdn)) for r in ok]

    def screen(
        self, items: Sequence[Checked]
    ) -> tuple[list[LineRecord], dict[int, Sealed], dict[str, Any]]:
        """The checks of a batch against this node alone: the records' errors recorded, a
        number cancelled here refused; the records kept, their sealed values by line, and
        the database rows of the numbers already here."""
        valid: list[tuple[LineRecord, Sealed]] = []
        for record, errors, sealed in items:
            if errors:
                self._error(errors)
            elif record is not None and sealed is not None:
                valid.append((record, sealed))
        if not valid:
            return [], {}, {}
        if not self.fresh:
            self.bulk.drain()
        conn = self.session.connection()
        existing = (
            {}
            if self.fresh
            else {
                row.msisdn: row
                for row in conn.execute(
                    select(
                        _lines.c.id,
                        _lines.c.msisdn,
                        _lines.c.status,
                        _lines.c.province_code,
                        _lines.c.cash_fen,
                        _lines.c.gift_fen,
                    ).where(self._among(_lines.c.msisdn, [r.msisdn for r, _ in valid]))
                )
            }
        )
        sealed_of = {r.line: s for r, s in valid}
        keep: list[LineRecord] = []
        for r, _ in valid:
            row = existing.get(r.msisdn)
            if row is not None and row.status == "cancelled":
                self._error(
                    [
                        FieldError(
                            r.line,
                            "msisdn",
                            "the number was cancelled here; a "
                            "cancelled number cannot be imported again",
                        )
                    ]
                )
            else:
                keep.append(r)
        return keep, sealed_of, existing

    def lines_under_ids(
        self, records: list[LineRecord], sealed_of: dict[int, Sealed]
    ) -> dict[str, frozenset[str]]:
        """The numbers (not cancelled) this node holds under the records' IDs, by owner key:
        asked by blind index, the only form of an ID the database keeps."""
        if self.fresh:
            return {}
        self.bulk.drain()
        conn = self.session.connection()
        key_of = {sealed_of[r.line].id_index: r.owner_key for r in records}
        found: dict[str, set[str]] = {}
        rows = (
            row
            for id_type, indexes in by_type(
                (r.id_type, sealed_of[r.line].id_index) for r in records
            ).items()
            for row in conn.execute(
                select(_owners.c.id_type, _owners.c.id_index, _lines.c.msisdn)
                .join(_lines, _lines.c.owner_id == _owners.c.id)
                .where(
                    _owners.c.id_type == id_type,
                    self._among(_owners.c.id_index, indexes),
                    _lines.c.status != "cancelled",
                )
            )
        )
        for id_type, id_index, msisdn in rows:
            owner_key = key_of.get(id_index)
            if owner_key is not None and owner_key.startswith(f"{id_type}:"):
                found.setdefault(owner_key, set()).add(msisdn)
        return {k: frozenset(v) for k, v in found.items()}

    def _error(self, errors: list[FieldError]) -> None:
        if not errors:
            return
        self.result.invalid += 1
        room = ERROR_LIMIT - len(self.result.errors)
        if room > 0:
            self.result.errors.extend(errors[:room])

    # ---- writing

    def write(self, batch: list[tuple[LineRecord, Sealed, Any]]) -> None:
        if batch:
            BatchWriter(self, batch).write()
            for r, _, row in batch:
                self.provinces[r.province_code] = self.provinces.get(r.province_code, 0) + 1
                for counts in (self.result, self.own):
                    if row is None:
                        counts.created += 1
                    else:
                        counts.updated += 1
            self.result.imported += len(batch)
            self.own.imported += len(batch)

    def finish(self, *, source: str) -> ImportResult:
        self.bulk.drain()
        self.result.skipped = self.result.invalid
        if self.own.imported:
            audit_append(
                self.session,
                at=self.now,
                actor=self.ctx.actor,
                action="lines.imported",
                subject=f"import:{source}"[:80],
                data={
                    "created": self.own.created,
                    "updated": self.own.updated,
                    "skipped": self.result.invalid,
                    "provinces": dict(sorted(self.provinces.items())),
                },
            )
        return self.result
