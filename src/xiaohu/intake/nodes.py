"""A line import over every node of a national deployment: each record written on the node of
its number's home province, the file's checks made once for the whole file.

One importer per node (`Importer`, in that node's session) screens and writes its share; they
share one set of file checks and one result, so a number twice in the file or a sixth line on
one ID is refused wherever the lines would live. The five-lines-per-ID rule (一证五号) counts
an ID's lines already registered on every node: each node is asked for the numbers under the
batch's ID blind indexes (scatter-gather), in the importing transactions, so what this import
already wrote counts too.

The trade-off: the rule is checked per import, against what the nodes hold when it is asked.
Two imports running at once on two nodes could each admit a line of the same ID and together
pass five; a national unique index of ID blind indexes would close that, at the price of one
more database on every import's (and every line opening's) write path. Imports are an
operator's batch work, run one at a time, so the per-batch check is what is done.

With one node this is the plain import: one importer, its own checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from xiaohu.intake.check import Checked, Sealed
from xiaohu.intake.rules import LineRecord
from xiaohu.intake.run import Importer, ImportResult
from xiaohu.regions.rules import home_of
from xiaohu.runtime import Runtime

Accepted = list[tuple[LineRecord, Sealed, Any]]


def home_province(record: LineRecord) -> str:
    """The province whose node holds the line: the one its number's prefix tells, as requests
    are routed (`xiaohu.routing`); the record's own home when the prefix tells none."""
    home = home_of(record.msisdn)
    return home.province_code if home is not None else record.province_code


class NodeImports:
    """The importers of one import, one per node, in the map's order."""

    def __init__(self, runtime: Runtime, importers: dict[str, Importer]) -> None:
        self.runtime = runtime
        self.importers = importers
        first = next(iter(importers.values()))
        self.checks = first.checks
        self.result: ImportResult = first.result
        for imp in importers.values():
            imp.checks, imp.result = self.checks, self.result

    def __iter__(self) -> Iterator[tuple[str, Importer]]:
        return iter(self.importers.items())

    def node_of(self, record: LineRecord) -> str:
        return self.runtime.node_of(home_province(record))

    def accept(self, items: Sequence[Checked]) -> dict[str, Accepted]:
        """A batch's records that pass, by the node they are written on (file order kept)."""
        if len(self.importers) == 1:
            ((name, imp),) = self.importers.items()
            return {name: imp.accept(items)}
        shares: dict[str, list[Checked]] = {name: [] for name in self.importers}
        first = next(iter(self.importers.values()))
        for item in items:
            record, errors, _ = item
            if errors or record is None:
                first.accept([item])  # records its errors, whichever node
            else:
                shares[self.node_of(record)].append(item)
        keep: list[LineRecord] = []
        sealed_of: dict[int, Sealed] = {}
        existing: dict[str, Any] = {}
        for name, share in shares.items():
            if share:
                kept, sealed, rows = self.importers[name].screen(share)
                keep.extend(kept)
                sealed_of.update(sealed)
                existing.update(rows)  # a number lives on one node: no key twice
        keep.sort(key=lambda r: r.line)

        def everywhere(records: list[LineRecord]) -> dict[str, frozenset[str]]:
            found: dict[str, frozenset[str]] = {}
            for imp in self.importers.values():
                for key, numbers in imp.lines_under_ids(records, sealed_of).items():
                    found[key] = found.get(key, frozenset()) | numbers
            return found

        ok, errors = self.checks.check(keep, everywhere)
        first._error(errors)
        out: dict[str, Accepted] = {name: [] for name in self.importers}
        for r in ok:
            out[self.node_of(r)].append((r, sealed_of[r.line], existing.get(r.msisdn)))
        return out

    def write(self, accepted: dict[str, Accepted]) -> None:
        for name, batch in accepted.items():
            self.importers[name].write(batch)

    def finish(self, *, source: str) -> ImportResult:
        for name, imp in self.importers.items():
            imp.finish(source=source)
            if len(self.importers) > 1:
                self.result.nodes[name] = (
                    f"ok: {imp.own.imported} line(s) ({imp.own.created} new, "
                    f"{imp.own.updated} updated)"
                )
        return self.result
