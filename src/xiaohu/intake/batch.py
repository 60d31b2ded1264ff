"""Writes one batch of valid import records with a handful of bulk statements: owners and
lines here; what hangs off a line in `children`, bundles and family groups in
`groups`, the opening balances in `postings`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, select, update

from xiaohu.intake.bulk_write import among, bulk_insert, by_type
from xiaohu.intake.check import Sealed
from xiaohu.intake.children import clear_children, kept_rows, write_children
from xiaohu.intake.groups import write_groups
from xiaohu.intake.postings import post_opening_balances
from xiaohu.intake.rules import LineRecord
from xiaohu.kit.clock import local_date
from xiaohu.lines.models import Line, Owner

if TYPE_CHECKING:
    from xiaohu.intake.run import Importer

_owners: Table = Owner.__table__  # type: ignore[assignment]
_lines: Table = Line.__table__  # type: ignore[assignment]

LINE_COLUMNS = (
    "id",
    "msisdn",
    "province_code",
    "city",
    "owner_id",
    "status",
    "status_reason",
    "status_changed_at",
    "opened_on",
    "real_name_verified",
    "plan_code",
    "plan_name",
    "plan_monthly_fee_fen",
    "cash_fen",
    "gift_fen",
    "service_password_hash",
    "bank_collection_pending",
    "arrears_since",
    "retained_on",
    "retention_starts_on",
    "version",
    "created_at",
    "updated_at",
)


class BatchWriter:
    """Writes one batch of valid records with a handful of bulk statements.

    Reads happen here, on the calling thread; writes are collected in `ops` and handed to the
    importer, which may run them on its writer thread while the next batch is prepared.
    """

    def __init__(self, imp: Importer, batch: list[tuple[LineRecord, Sealed, Any]]) -> None:
        self.imp = imp
        self.records = batch
        self.now = imp.now
        self.line_id: dict[str, int] = {}
        self.ops: list[Callable[[Connection], None]] = []

    def write(self) -> None:
        owner_ids = self._owners()
        old = {r.msisdn: row for r, _, row in self.records if row is not None}
        self._lines(owner_ids)
        reimported = [row.id for row in old.values()]
        receivable_before: dict[int, int] = {}
        kept: tuple[set[tuple[int, str]], ...] = (set(), set(), set())
        if reimported:
            # Replacing what hangs off existing lines needs answers from the database: run
            # what is queued so far, then clear and read synchronously.
            self.flush()
            receivable_before = clear_children(self, reimported)
            kept = kept_rows(self, reimported)
        write_children(self, *kept)
        write_groups(self)
        post_opening_balances(self, old, receivable_before, kept[0])
        self.imp.bulk.submit(self.ops)

    # -- plumbing

    def among(self, column: Any, values: Iterable[Any]) -> Any:
        return among(column, values, self.imp.pg)

    def read(self, stmt: Any) -> Any:
        """Run a query now (after the writes queued so far)."""
        self.flush()
        return self.imp.session.connection().execute(stmt)

    def flush(self) -> None:
        if self.ops:
            self.imp.bulk.submit(self.ops)
            self.ops = []
        self.imp.bulk.drain()

    def insert(self, table: Table, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.ops.append(lambda conn: bulk_insert(conn, table, cols, rows))

    def execute(self, stmt: Any, params: list[dict[str, Any]] | None = None) -> None:
        def run(conn: Connection) -> None:
            conn.execute(stmt, params) if params else conn.execute(stmt)

        self.ops.append(run)

    # -- owners and lines

    def _owners(self) -> dict[tuple[str, str], int]:
        wanted: dict[tuple[str, str], tuple[LineRecord, Sealed]] = {}
        for r, s, _ in self.records:
            wanted[(r.id_type, s.id_index)] = (r, s)  # the last record's name wins
        known = self.imp.owner_ids
        found: dict[tuple[str, str], int] = {k: known[k] for k in wanted if k in known}
        unknown = [k for k in wanted if k not in found]
        renamed: list[dict[str, Any]] = []
        if unknown and not self.imp.fresh:
            for id_type, indexes in by_type(unknown).items():
                for oid, _type, id_index, name in self.read(
                    select(
                        _owners.c.id, _owners.c.id_type, _owners.c.id_index, _owners.c.name
                    ).where(_owners.c.id_type == id_type, self.among(_owners.c.id_index, indexes))
                ):
                    key = (id_type, id_index)
                    found[key] = oid
                    if wanted[key][0].owner_name != name:
                        renamed.append({"_id": oid, "name": wanted[key][0].owner_name})
        if renamed:
            self.execute(
                update(_owners)
                .where(_owners.c.id == bindparam("_id"))
                .values(name=bindparam("name")),
                renamed,
            )
        new = [k for k in unknown if k not in found]
        rows_out = []
        for key, oid in zip(new, self.imp.bulk.ids(_owners, len(new)), strict=True):
            r, s = wanted[key]
            found[key] = oid
            rows_out.append(
                (oid, r.id_type, s.id_index, s.id_cipher, s.id_masked, r.owner_name, self.now)
            )
        self.insert(
            _owners,
            ("id", "id_type", "id_index", "id_cipher", "id_masked", "name", "created_at"),
            rows_out,
        )
        known.update(found)
        return found

    def _lines(self, owner_ids: dict[tuple[str, str], int]) -> None:
        new = [(r, s) for r, s, row in self.records if row is None]
        now = self.now
        today = local_date(now)
        rows = []
        for (r, s), lid in zip(new, self.imp.bulk.ids(_lines, len(new)), strict=True):
            self.line_id[r.msisdn] = lid
            rows.append(
                (
                    lid, r.msisdn, r.province_code, r.city, owner_ids[(r.id_type, s.id_index)],
                    r.status, "import", now, r.opened_on, r.real_name_verified, r.plan_code,
                    r.plan_name, r.plan_monthly_fee_fen, r.cash_fen, r.gift_fen,
                    s.password_hash, r.bank_collection_pending, *r.lifecycle_dates(today), 1,
                    now, now,
                )
            )  # fmt: skip
        self.insert(_lines, LINE_COLUMNS, rows)
        updates = []
        changed = []
        for r, s, row in self.records:
            if row is None:
                continue
            self.line_id[r.msisdn] = row.id
            updates.append(
                {
                    "_id": row.id,
                    "province_code": r.province_code,
                    "city": r.city,
                    "owner_id": owner_ids[(r.id_type, s.id_index)],
                    "status": r.status,
                    "opened_on": r.opened_on,
                    "real_name_verified": r.real_name_verified,
                    "plan_code": r.plan_code,
                    "plan_name": r.plan_name,
                    "plan_monthly_fee_fen": r.plan_monthly_fee_fen,
                    "cash_fen": r.cash_fen,
                    "gift_fen": r.gift_fen,
                    "service_password_hash": s.password_hash,
                    "bank_collection_pending": r.bank_collection_pending,
                    **dict(
                        zip(
                            ("arrears_since", "retained_on", "retention_starts_on"),
                            r.lifecycle_dates(today),
                            strict=True,
                        )
                    ),
                    "updated_at": now,
                }
            )
            if row.status != r.status:  # a changed status gets a fresh timestamp and reason
                changed.append({"_id": row.id, "status_changed_at": now})
        if updates:
            values: dict[str, Any] = {k: bindparam(k) for k in updates[0] if k != "_id"}
            self.execute(
                update(_lines)
                .where(_lines.c.id == bindparam("_id"))
                .values(**values, version=_lines.c.version + 1),
                updates,
            )
        if changed:
            self.execute(
                update(_lines)
                .where(_lines.c.id == bindparam("_id"))
                .values(status_changed_at=bindparam("status_changed_at"), status_reason="import"),
                changed,
            )
