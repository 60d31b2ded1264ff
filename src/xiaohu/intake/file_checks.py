"""Checks across an import file: a number twice, more than five lines on one ID (一证五号,
counting lines already in the database), a second anchor for a bundle or a second primary for a
family group. Pure: the database is asked through the callback the importer passes in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from xiaohu.intake.record import FieldError, LineRecord, owner_hash


@dataclass
class FileChecks:
    """What the file has shown so far: each number's first line, each ID's numbers, each
    bundle's anchor and each family's primary. Feed valid records in file order.

    `db_lines_of(owner_keys)` answers, for IDs not seen before, the numbers already in the
    database under that ID (not cancelled); it is called once per new ID, in batches.
    """

    max_lines_per_id: int = 5
    today: dt.date | None = None  # the import's date: lifecycle dates may not be after it
    first_line: dict[int, int] = field(default_factory=dict)  # msisdn -> line
    id_count: dict[int, int] = field(default_factory=dict)  # owner hash -> lines
    id_db_numbers: dict[int, frozenset[str]] = field(default_factory=dict)
    anchors: dict[str, int] = field(default_factory=dict)  # bundle id -> line
    primaries: dict[str, int] = field(default_factory=dict)  # family id -> line

    def check(
        self,
        records: list[LineRecord],
        db_lines_of: Callable[[list[LineRecord]], dict[str, frozenset[str]]],
    ) -> tuple[list[LineRecord], list[FieldError]]:
        """Split a batch (in file order) into records that pass and the errors of the rest."""
        hashes = {r.line: r.owner_hash or owner_hash(r.owner_key) for r in records}
        fresh = [r for r in records if hashes[r.line] not in self.id_count]
        if fresh:
            known = db_lines_of(fresh)
            for r in fresh:
                h = hashes[r.line]
                numbers = known.get(r.owner_key, frozenset())
                self.id_count.setdefault(h, len(numbers))
                if numbers:
                    self.id_db_numbers[h] = numbers
        ok: list[LineRecord] = []
        errors: list[FieldError] = []
        for r in records:
            h = hashes[r.line]
            problems = self._problems(r, h)
            if problems:
                errors.extend(problems)
                continue
            self._accept(r, h)
            ok.append(r)
        return ok, errors

    def _problems(self, r: LineRecord, h: int) -> list[FieldError]:
        out: list[FieldError] = []
        if self.today is not None:
            for name, day in (("suspended_on", r.suspended_on), ("retained_on", r.retained_on)):
                if day is not None and day > self.today:
                    out.append(FieldError(r.line, name, f"{day.isoformat()} is in the future"))
        first = self.first_line.get(int(r.msisdn))
        if first is not None:
            out.append(FieldError(r.line, "msisdn", f"{r.msisdn} already appears on line {first}"))
        new_for_id = r.msisdn not in self.id_db_numbers.get(h, ())
        if new_for_id and self.id_count.get(h, 0) + 1 > self.max_lines_per_id:
            out.append(
                FieldError(
                    r.line,
                    "owner.id_number",
                    f"this ID would hold more than {self.max_lines_per_id} lines "
                    "(一证五号), counting lines already registered",
                )
            )
        if r.bundle and r.bundle[2] == "anchor":
            prev = self.anchors.get(r.bundle[0])
            if prev is not None:
                out.append(
                    FieldError(
                        r.line,
                        "bundle.role",
                        f"bundle {r.bundle[0]} already has its anchor on line {prev}",
                    )
                )
        if r.family and r.family[1] == "primary":
            prev = self.primaries.get(r.family[0])
            if prev is not None:
                out.append(
                    FieldError(
                        r.line,
                        "family.role",
                        f"family {r.family[0]} already has its primary on line {prev}",
                    )
                )
        return out

    def _accept(self, r: LineRecord, h: int) -> None:
        self.first_line[int(r.msisdn)] = r.line
        if r.msisdn not in self.id_db_numbers.get(h, ()):
            self.id_count[h] = self.id_count.get(h, 0) + 1
        if r.bundle and r.bundle[2] == "anchor":
            self.anchors[r.bundle[0]] = r.line
        if r.family and r.family[1] == "primary":
            self.primaries[r.family[0]] = r.line
