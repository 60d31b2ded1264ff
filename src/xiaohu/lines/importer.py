"""Loading lines from the previous system: JSON Lines in, owners, lines, bills, contracts out.

Built for millions of records: records are validated (pure, `lines.rules`) and then written a
batch at a time with bulk statements (PostgreSQL `COPY`, SQLite `executemany`), ids handed out
in advance, existing rows looked up a batch at a time. Opening balances and unpaid bills go to
the ledger in one journal transaction per batch, so the trial balance holds from the first
import; re-importing a number posts only the difference. One audit event per import.

Without `skip_invalid` nothing is written when any record is invalid.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Table,
    any_,
    bindparam,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from xiaohu.audit.service import append as audit_append
from xiaohu.billing.models import Bill, UsageHistory, UsageRecord
from xiaohu.contracts.models import Contract
from xiaohu.identity.crypto import PiiCipher
from xiaohu.identity.passwords import hash_for_import
from xiaohu.identity.rules import mask_id
from xiaohu.kit.clock import local_date, period_of
from xiaohu.kit.db import UTCDateTime
from xiaohu.kit.errors import DomainError
from xiaohu.kit.progress import progress
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import UnbalancedTransaction
from xiaohu.ledger.service import ensure_accounts
from xiaohu.lines.models import (
    Bundle,
    BundleMember,
    FamilyGroup,
    FamilyMember,
    Line,
    Owner,
    PaymentRoute,
    PendingOrder,
)
from xiaohu.lines.rules import FieldError, FileChecks, LineRecord, validate_record
from xiaohu.runtime import Context, Runtime

BATCH = 5000
ID_BLOCK = 50_000  # PostgreSQL ids fetched per round trip
SQLITE_CACHE_KIB = 256 * 1024  # page cache while importing: random-key indexes stay in memory
ERROR_LIMIT = 10_000  # errors kept for the report; counting goes on

_owners: Table = Owner.__table__  # type: ignore[assignment]
_lines: Table = Line.__table__  # type: ignore[assignment]
_bills: Table = Bill.__table__  # type: ignore[assignment]
_usage: Table = UsageRecord.__table__  # type: ignore[assignment]
_history: Table = UsageHistory.__table__  # type: ignore[assignment]
_contracts: Table = Contract.__table__  # type: ignore[assignment]
_orders: Table = PendingOrder.__table__  # type: ignore[assignment]
_routes: Table = PaymentRoute.__table__  # type: ignore[assignment]
_bundles: Table = Bundle.__table__  # type: ignore[assignment]
_bundle_members: Table = BundleMember.__table__  # type: ignore[assignment]
_families: Table = FamilyGroup.__table__  # type: ignore[assignment]
_family_members: Table = FamilyMember.__table__  # type: ignore[assignment]
_entries: Table = JournalEntry.__table__  # type: ignore[assignment]
_transactions: Table = JournalTransaction.__table__  # type: ignore[assignment]


@dataclass
class ImportResult:
    imported: int = 0  # written: created + updated
    created: int = 0
    updated: int = 0
    skipped: int = 0  # invalid records left out (with skip_invalid)
    invalid: int = 0  # invalid records, counted even past ERROR_LIMIT
    errors: list[FieldError] = field(default_factory=list)


class Sealed(NamedTuple):
    """What the database stores instead of clear text: blind index, cipher, mask, hash."""

    id_index: str
    id_cipher: bytes
    id_masked: str
    password_hash: str | None


Checked = tuple[LineRecord | None, list[FieldError], Sealed | None]


def seal(record: LineRecord, cipher: PiiCipher, key: bytes) -> Sealed:
    return Sealed(
        id_index=cipher.blind_index(record.id_type, record.id_number),
        id_cipher=cipher.encrypt(record.id_number, context=f"{record.id_type}:owner"),
        id_masked=mask_id(record.id_number),
        password_hash=(
            hash_for_import(key, record.msisdn, record.service_password)
            if record.service_password
            else None
        ),
    )


def parse_json_line(raw: str | bytes, line: int) -> tuple[object, FieldError | None]:
    try:
        return json.loads(raw), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} (column {exc.colno})"
        else:
            detail = f"not UTF-8 text (byte {exc.start})"
        return None, FieldError(line, "(record)", f"not valid JSON: {detail}")


def check_chunk(
    chunk: Sequence[tuple[int, object]], cipher: PiiCipher, key: bytes
) -> list[Checked]:
    """Validate and seal decoded records. Raw JSON text (str/bytes) is decoded first."""
    out: list[Checked] = []
    for line, value in chunk:
        if isinstance(value, str | bytes):
            value, problem = parse_json_line(value, line)
            if problem is not None:
                out.append((None, [problem], None))
                continue
        record, errors = validate_record(value, line)
        out.append((record, errors, seal(record, cipher, key) if record else None))
    return out


# -------------------------------------------------------------------- worker processes

_worker: tuple[PiiCipher, bytes] | None = None


def _init_worker(key: bytes) -> None:
    global _worker  # one cipher per worker process
    _worker = (PiiCipher(key), key)
    gc.freeze()  # what the worker inherited is never garbage; do not rescan it
    gc.disable()  # collected once a chunk instead (see below)


def _check_in_worker(chunk: list[tuple[int, bytes]]) -> list[Checked]:
    assert _worker is not None
    checked = check_chunk(chunk, *_worker)
    gc.collect()  # only an invalid record's traceback can leave a cycle behind
    return checked


# -------------------------------------------------------------------- the importer


class Importer:
    """One import run inside the caller's session: `accept` batches in file order, then
    `finish`. Writes happen in `write`; the caller decides whether to commit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.session: Session = ctx.session
        self.now = ctx.now()
        self.period = period_of(local_date(self.now))
        self.checks = FileChecks(max_lines_per_id=ctx.runtime.policy.defaults.max_lines_per_id)
        self.result = ImportResult()
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
        self._ids: dict[str, list[int]] = {}
        self._id_block: dict[str, int] = {}
        self._next_sqlite_id: dict[str, int] = {}
        # Statements of a written batch run on this thread while the next batch is prepared;
        # whoever reads the database first waits for it (`drain`).
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._sqlite_cache: int | None = None

    def prepare_bulk(self) -> None:
        """For a long import. PostgreSQL works in its own process: let it digest a batch while
        the next one is prepared (a writer thread). Not on SQLite: its driver gives up the GIL
        around every row it steps, and a thread fighting the main one for the GIL at every row
        is slower than none; SQLite gets a page cache big enough for the indexes instead."""
        if self.pg:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="import-writer")
            return
        conn = self.session.connection()
        self._sqlite_cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")

    def drain(self) -> None:
        """Wait for the statements handed to the writer thread (and raise what they raised)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None
            if self._sqlite_cache is not None:
                cache, self._sqlite_cache = int(self._sqlite_cache), None
                self.session.connection().exec_driver_sql(f"PRAGMA cache_size = {cache}")

    def submit(self, ops: list[Callable[[Connection], None]]) -> None:
        conn = self.session.connection()

        def run() -> None:
            for op in ops:
                op(conn)

        self.drain()
        if self._writer is None:
            run()
        else:
            self._pending = self._writer.submit(run)

    def ids(self, table: Table, n: int) -> list[int]:
        """Fresh primary keys, handed out in blocks so most batches need no round trip."""
        if n == 0:
            return []
        name = table.name
        if self.pg:
            pool = self._ids.setdefault(name, [])
            if len(pool) < n:
                self.drain()
                rows = self.session.connection().execute(
                    text(
                        "SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                        "FROM generate_series(1, :n)"
                    ),
                    {"t": name, "n": max(n, self._id_block.get(name, 0))},
                )
                pool.extend(sorted(r[0] for r in rows))
                # Small imports take what they need; big ones ever larger blocks.
                self._id_block[name] = min(ID_BLOCK, 2 * max(n, self._id_block.get(name, 0)))
            taken, pool[:] = pool[:n], pool[n:]
            return taken
        # SQLite: the write lock (BEGIN IMMEDIATE) is held for the whole transaction, so
        # max(id) cannot move under us; count on from it.
        if name not in self._next_sqlite_id:
            self.drain()
            top = (
                self.session.connection()
                .execute(select(table.c.id).order_by(table.c.id.desc()).limit(1))
                .scalar()
            )
            self._next_sqlite_id[name] = (top or 0) + 1
        start = self._next_sqlite_id[name]
        self._next_sqlite_id[name] = start + n
        return list(range(start, start + n))

    def _among(self, column: Any, values: Iterable[Any]) -> Any:
        return among(column, values, self.pg)

    # ---- checking

    def accept(self, items: Sequence[Checked]) -> list[tuple[LineRecord, Sealed, Any]]:
        """Record the errors of a batch; return the records that pass with their database row
        (None for a new number)."""
        valid: list[tuple[LineRecord, Sealed]] = []
        for record, errors, sealed in items:
            if errors:
                self._error(errors)
            elif record is not None and sealed is not None:
                valid.append((record, sealed))
        if not valid:
            return []
        if not self.fresh:
            self.drain()
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

        def db_lines_of(records: list[LineRecord]) -> dict[str, frozenset[str]]:
            if self.fresh:
                return {}
            key_of = {sealed_of[r.line].id_index: r.owner_key for r in records}
            found: dict[str, set[str]] = {}
            rows = (
                row
                for id_type, indexes in _by_type(
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

        ok, errors = self.checks.check(keep, db_lines_of)
        self._error(errors)
        return [(r, sealed_of[r.line], existing.get(r.msisdn)) for r in ok]

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
            _Batch(self, batch).write()
            for r, _, row in batch:
                self.provinces[r.province_code] = self.provinces.get(r.province_code, 0) + 1
                if row is None:
                    self.result.created += 1
                else:
                    self.result.updated += 1
            self.result.imported += len(batch)

    def finish(self, *, source: str) -> ImportResult:
        self.drain()
        self.result.skipped = self.result.invalid
        if self.result.imported:
            audit_append(
                self.session,
                at=self.now,
                actor=self.ctx.actor,
                action="lines.imported",
                subject=f"import:{source}"[:80],
                data={
                    "created": self.result.created,
                    "updated": self.result.updated,
                    "skipped": self.result.invalid,
                    "provinces": dict(sorted(self.provinces.items())),
                },
            )
        return self.result


def among(column: Any, values: Iterable[Any], pg: bool) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`: one parameter instead of
    thousands, so a batch lookup is not spent rendering and parsing placeholders."""
    values = list(values)
    if pg:
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _by_type(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Blind indexes grouped by ID type: owners are keyed (and indexed) on the pair."""
    out: dict[str, list[str]] = {}
    for id_type, id_index in keys:
        out.setdefault(id_type, []).append(id_index)
    return out


class _Batch:
    """Writes one batch of valid records with a handful of bulk statements.

    Reads happen here, on the calling thread; writes are collected in `ops` and handed to the
    importer, which may run them on its writer thread while the next batch is prepared.
    """

    def __init__(self, imp: Importer, batch: list[tuple[LineRecord, Sealed, Any]]) -> None:
        self.imp = imp
        self.batch = batch
        self.now = imp.now
        self.line_id: dict[str, int] = {}
        self.ops: list[Callable[[Connection], None]] = []

    def write(self) -> None:
        owner_ids = self._owners()
        old = {r.msisdn: row for r, _, row in self.batch if row is not None}
        self._lines(owner_ids)
        reimported = [row.id for row in old.values()]
        receivable_before: dict[int, int] = {}
        kept: tuple[set[tuple[int, str]], ...] = (set(), set(), set())
        if reimported:
            # Replacing what hangs off existing lines needs answers from the database: run
            # what is queued so far, then clear and read synchronously.
            self._flush()
            receivable_before = self._clear_children(reimported)
            kept = self._kept(reimported)
        self._children(*kept)
        self._groups()
        self._ledger(old, receivable_before, kept[0])
        self.imp.submit(self.ops)

    # -- plumbing

    def _among(self, column: Any, values: Iterable[Any]) -> Any:
        return among(column, values, self.imp.pg)

    def _read(self, stmt: Any) -> Any:
        """Run a query now (after the writes queued so far)."""
        self._flush()
        return self.imp.session.connection().execute(stmt)

    def _flush(self) -> None:
        if self.ops:
            self.imp.submit(self.ops)
            self.ops = []
        self.imp.drain()

    def _insert(self, table: Table, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.ops.append(lambda conn: bulk_insert(conn, table, cols, rows))

    def _execute(self, stmt: Any, params: list[dict[str, Any]] | None = None) -> None:
        def run(conn: Connection) -> None:
            conn.execute(stmt, params) if params else conn.execute(stmt)

        self.ops.append(run)

    # -- owners and lines

    def _owners(self) -> dict[tuple[str, str], int]:
        wanted: dict[tuple[str, str], tuple[LineRecord, Sealed]] = {}
        for r, s, _ in self.batch:
            wanted[(r.id_type, s.id_index)] = (r, s)  # the last record's name wins
        known = self.imp.owner_ids
        found: dict[tuple[str, str], int] = {k: known[k] for k in wanted if k in known}
        unknown = [k for k in wanted if k not in found]
        renamed: list[dict[str, Any]] = []
        if unknown and not self.imp.fresh:
            for id_type, indexes in _by_type(unknown).items():
                for oid, _type, id_index, name in self._read(
                    select(
                        _owners.c.id, _owners.c.id_type, _owners.c.id_index, _owners.c.name
                    ).where(_owners.c.id_type == id_type, self._among(_owners.c.id_index, indexes))
                ):
                    key = (id_type, id_index)
                    found[key] = oid
                    if wanted[key][0].owner_name != name:
                        renamed.append({"_id": oid, "name": wanted[key][0].owner_name})
        if renamed:
            self._execute(
                update(_owners)
                .where(_owners.c.id == bindparam("_id"))
                .values(name=bindparam("name")),
                renamed,
            )
        new = [k for k in unknown if k not in found]
        rows_out = []
        for key, oid in zip(new, self.imp.ids(_owners, len(new)), strict=True):
            r, s = wanted[key]
            found[key] = oid
            rows_out.append(
                (oid, r.id_type, s.id_index, s.id_cipher, s.id_masked, r.owner_name, self.now)
            )
        self._insert(
            _owners,
            ("id", "id_type", "id_index", "id_cipher", "id_masked", "name", "created_at"),
            rows_out,
        )
        known.update(found)
        return found

    def _lines(self, owner_ids: dict[tuple[str, str], int]) -> None:
        new = [(r, s) for r, s, row in self.batch if row is None]
        now = self.now
        rows = []
        for (r, s), lid in zip(new, self.imp.ids(_lines, len(new)), strict=True):
            self.line_id[r.msisdn] = lid
            rows.append(
                (
                    lid, r.msisdn, r.province_code, r.city, owner_ids[(r.id_type, s.id_index)],
                    r.status, "import", now, r.opened_on, r.real_name_verified, r.plan_code,
                    r.plan_name, r.plan_monthly_fee_fen, r.cash_fen, r.gift_fen,
                    s.password_hash, r.bank_collection_pending, 1, now, now,
                )
            )  # fmt: skip
        self._insert(_lines, LINE_COLUMNS, rows)
        updates = []
        changed = []
        for r, s, row in self.batch:
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
                    "updated_at": now,
                }
            )
            if row.status != r.status:  # a changed status gets a fresh timestamp and reason
                changed.append({"_id": row.id, "status_changed_at": now})
        if updates:
            values: dict[str, Any] = {k: bindparam(k) for k in updates[0] if k != "_id"}
            self._execute(
                update(_lines)
                .where(_lines.c.id == bindparam("_id"))
                .values(**values, version=_lines.c.version + 1),
                updates,
            )
        if changed:
            self._execute(
                update(_lines)
                .where(_lines.c.id == bindparam("_id"))
                .values(status_changed_at=bindparam("status_changed_at"), status_reason="import"),
                changed,
            )

    # -- what hangs off a re-imported line is replaced

    def _clear_children(self, ids: list[int]) -> dict[int, int]:
        """Delete the replaceable rows of re-imported lines; return each line's outstanding
        receivable on the unpaid bills removed (to post only the difference)."""
        c = self.imp.session.connection()
        referenced = select(_usage.c.bill_id).where(
            self._among(_usage.c.line_id, ids), _usage.c.bill_id.is_not(None)
        )
        removable = (
            self._among(_bills.c.line_id, ids),
            _bills.c.status == "unpaid",
            _bills.c.kind == "cycle",
            _bills.c.id.not_in(referenced),
        )
        before: dict[int, int] = {}
        for lid, outstanding in c.execute(
            select(_bills.c.line_id, _bills.c.amount_fen - _bills.c.paid_fen).where(*removable)
        ):
            before[lid] = before.get(lid, 0) + int(outstanding)
        c.execute(delete(_bills).where(*removable))
        c.execute(
            delete(_usage).where(
                self._among(_usage.c.line_id, ids),
                _usage.c.source == "import",
                _usage.c.billed.is_(False),
            )
        )
        c.execute(delete(_history).where(self._among(_history.c.line_id, ids)))
        c.execute(
            delete(_contracts).where(
                self._among(_contracts.c.line_id, ids), _contracts.c.status == "active"
            )
        )
        c.execute(
            delete(_orders).where(self._among(_orders.c.line_id, ids), _orders.c.status == "open")
        )
        c.execute(delete(_routes).where(self._among(_routes.c.line_id, ids)))
        c.execute(delete(_bundle_members).where(self._among(_bundle_members.c.line_id, ids)))
        c.execute(
            update(_bundles)
            .where(self._among(_bundles.c.anchor_line_id, ids))
            .values(anchor_line_id=None, updated_at=self.now)
        )
        c.execute(delete(_family_members).where(self._among(_family_members.c.line_id, ids)))
        return before

    def _kept(
        self, ids: list[int]
    ) -> tuple[set[tuple[int, str]], set[tuple[int, str]], set[tuple[int, str]]]:
        """Rows of re-imported lines that stay (paid bills, ended contracts, finished orders):
        the file cannot bring them back."""
        c = self.imp.session.connection()
        periods = {
            (lid, p)
            for lid, p in c.execute(
                select(_bills.c.line_id, _bills.c.period).where(
                    self._among(_bills.c.line_id, ids), _bills.c.kind == "cycle"
                )
            )
        }
        contracts = {
            (lid, ref)
            for lid, ref in c.execute(
                select(_contracts.c.line_id, _contracts.c.contract_ref).where(
                    self._among(_contracts.c.line_id, ids)
                )
            )
        }
        orders = {
            (lid, ref)
            for lid, ref in c.execute(
                select(_orders.c.line_id, _orders.c.order_ref).where(
                    self._among(_orders.c.line_id, ids)
                )
            )
        }
        return periods, contracts, orders

    def _children(
        self,
        kept_periods: set[tuple[int, str]],
        kept_contracts: set[tuple[int, str]],
        kept_orders: set[tuple[int, str]],
    ) -> None:
        now, period = self.now, self.imp.period
        bills, usage, history, contracts, orders, routes = [], [], [], [], [], []
        for r, _, _ in self.batch:
            lid, p = self.line_id[r.msisdn], r.province_code
            for b in r.unpaid_bills:
                if (lid, b.period) not in kept_periods:
                    bills.append(
                        (lid, p, b.period, "cycle", b.amount_fen, 0, b.due_on, "unpaid", now)
                    )
            if r.usage_unbilled_fen:
                usage.append((lid, p, r.usage_unbilled_fen, "import", period, now, False))
            n = len(r.usage_history_fen)
            for i, amount in enumerate(r.usage_history_fen):
                history.append((lid, n - i, p, amount))
            for k in r.contracts:
                if (lid, k.ref) not in kept_contracts:
                    contracts.append(
                        (
                            lid,
                            p,
                            k.ref,
                            k.kind,
                            k.starts_on,
                            k.ends_on,
                            k.handset_list_price_fen,
                            k.handset_promo_price_fen,
                            k.gift_prestore_remaining_fen,
                            k.monthly_minimum_fen,
                            "active",
                        )
                    )
            for ref, kind in r.pending_orders:
                if (lid, ref) not in kept_orders:
                    orders.append((lid, p, ref, kind, "open"))
            if r.payment_route:
                routes.append((lid, p, r.payment_route[0], r.payment_route[1]))
        self._insert(
            _bills,
            (
                "line_id",
                "province_code",
                "period",
                "kind",
                "amount_fen",
                "paid_fen",
                "due_on",
                "status",
                "created_at",
            ),
            bills,
        )
        self._insert(
            _usage,
            ("line_id", "province_code", "amount_fen", "source", "period", "occurred_at", "billed"),
            usage,
        )
        self._insert(_history, ("line_id", "seq", "province_code", "amount_fen"), history)
        self._insert(
            _contracts,
            (
                "line_id",
                "province_code",
                "contract_ref",
                "kind",
                "starts_on",
                "ends_on",
                "handset_list_price_fen",
                "handset_promo_price_fen",
                "gift_prestore_remaining_fen",
                "monthly_minimum_fen",
                "status",
            ),
            contracts,
        )
        self._insert(_orders, ("line_id", "province_code", "order_ref", "kind", "status"), orders)
        self._insert(_routes, ("line_id", "province_code", "kind", "account"), routes)

    def _groups(self) -> None:
        """Bundles and family groups: created on first mention, anchor set by the anchor."""
        bundles: dict[str, tuple[str, str | None, int | None]] = {}
        families: dict[str, str] = {}
        bundle_members, family_members = [], []
        for r, _, _ in self.batch:
            lid = self.line_id[r.msisdn]
            if r.bundle:
                ref, account, role = r.bundle
                prov, acct, anchor = bundles.get(ref, (r.province_code, None, None))
                if role == "anchor":
                    prov, acct, anchor = r.province_code, account, lid
                bundles[ref] = (prov, acct or account, anchor)
                bundle_members.append((lid, ref, r.province_code, role))
            if r.family:
                ref, role = r.family
                if role == "primary" or ref not in families:
                    families[ref] = r.province_code
                family_members.append((lid, ref, r.province_code, role))
        imp = self.imp
        if bundles:
            if imp.fresh:
                present = imp.bundles_seen & set(bundles)
            else:
                present = {
                    ref
                    for (ref,) in self._read(
                        select(_bundles.c.id).where(self._among(_bundles.c.id, list(bundles)))
                    )
                }
            imp.bundles_seen.update(bundles)
            self._insert(
                _bundles,
                ("id", "province_code", "broadband_account", "anchor_line_id", "status",
                 "updated_at"),
                [
                    (ref, p, a, anchor, "active", self.now)
                    for ref, (p, a, anchor) in bundles.items()
                    if ref not in present
                ],
            )  # fmt: skip
            moved = [
                {"_id": ref, "p": p, "a": a, "anchor": anchor}
                for ref, (p, a, anchor) in bundles.items()
                if ref in present and anchor is not None
            ]
            if moved:
                self._execute(
                    update(_bundles)
                    .where(_bundles.c.id == bindparam("_id"))
                    .values(
                        province_code=bindparam("p"),
                        broadband_account=bindparam("a"),
                        anchor_line_id=bindparam("anchor"),
                        status="active",
                        updated_at=self.now,
                    ),
                    moved,
                )
                # The previous anchor of a re-anchored bundle is a member now.
                self._execute(
                    update(_bundle_members)
                    .where(
                        self._among(_bundle_members.c.bundle_id, [m["_id"] for m in moved]),
                        _bundle_members.c.role == "anchor",
                    )
                    .values(role="member")
                )
            self._insert(
                _bundle_members, ("line_id", "bundle_id", "province_code", "role"), bundle_members
            )
        if families:
            if imp.fresh:
                present = imp.families_seen & set(families)
            else:
                present = {
                    ref
                    for (ref,) in self._read(
                        select(_families.c.id).where(self._among(_families.c.id, list(families)))
                    )
                }
            imp.families_seen.update(families)
            self._insert(
                _families,
                ("id", "province_code", "status"),
                [(ref, p, "active") for ref, p in families.items() if ref not in present],
            )
            primaries = {ref for _, ref, _, role in family_members if role == "primary"}
            if primaries & present:
                self._execute(
                    update(_family_members)
                    .where(
                        self._among(_family_members.c.group_id, list(primaries & present)),
                        _family_members.c.role == "primary",
                    )
                    .values(role="member")
                )
            self._insert(
                _family_members, ("line_id", "group_id", "province_code", "role"), family_members
            )

    # -- the ledger

    def _ledger(
        self, old: dict[str, Any], receivable_before: dict[int, int], kept: set[tuple[int, str]]
    ) -> None:
        """Post opening balances (or, for a re-import, the difference) in one transaction."""
        # Legs as (account, line_id, debit, credit): a million lines make a million legs.
        legs: list[tuple[str, int | None, int, int]] = []
        opening: dict[str, int] = {}  # province -> net debit to opening_balances

        def post(account: str, lid: int, province: str, credit_amount: int) -> None:
            """A credit (negative: a debit) to a line's sub-account, opposite opening."""
            if credit_amount > 0:
                legs.append((f"{account}:{province}", lid, 0, credit_amount))
            elif credit_amount < 0:
                legs.append((f"{account}:{province}", lid, -credit_amount, 0))
            else:
                return
            opening[province] = opening.get(province, 0) + credit_amount

        for r, _, _ in self.batch:
            lid, p = self.line_id[r.msisdn], r.province_code
            row = old.get(r.msisdn)
            receivable = sum(b.amount_fen for b in r.unpaid_bills if (lid, b.period) not in kept)
            if row is None or row.province_code == p:
                was_cash, was_gift = (0, 0) if row is None else (row.cash_fen, row.gift_fen)
                post("subscriber_cash", lid, p, r.cash_fen - was_cash)
                post("subscriber_gift", lid, p, r.gift_fen - was_gift)
                post("receivables", lid, p, -(receivable - receivable_before.get(lid, 0)))
            else:  # the home province changed: close the old sub-accounts, open the new
                q = row.province_code
                post("subscriber_cash", lid, q, -row.cash_fen)
                post("subscriber_gift", lid, q, -row.gift_fen)
                post("receivables", lid, q, receivable_before.get(lid, 0))
                post("subscriber_cash", lid, p, r.cash_fen)
                post("subscriber_gift", lid, p, r.gift_fen)
                post("receivables", lid, p, -receivable)
        for province, amount in sorted(opening.items()):
            if amount > 0:
                legs.append((f"opening_balances:{province}", None, amount, 0))
            elif amount < 0:
                legs.append((f"opening_balances:{province}", None, 0, -amount))
        if not legs:
            return
        debits, credits = sum(leg[2] for leg in legs), sum(leg[3] for leg in legs)
        if debits != credits:  # each leg is one-sided by construction; the sums must agree
            raise UnbalancedTransaction(f"import batch: debits {debits} != credits {credits}")
        imp = self.imp
        codes = {leg[0] for leg in legs} - imp.accounts_ready
        if codes:
            self._flush()
            ensure_accounts(imp.session, codes)
            imp.accounts_ready.update(codes)
        (txn_id,) = imp.ids(_transactions, 1)
        self._insert(
            _transactions,
            ("id", "kind", "memo", "ref", "province_code", "posted_at"),
            [(txn_id, "import.opening_balances",
              f"opening balances of {len(self.batch)} imported line(s)", None, None, self.now)],
        )  # fmt: skip
        self._insert(
            _entries,
            ("transaction_id", "account_code", "line_id", "debit_fen", "credit_fen"),
            [(txn_id, account, lid, d, c) for account, lid, d, c in legs],
        )


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
    "version",
    "created_at",
    "updated_at",
)


def bulk_insert(
    conn: Connection, table: Table, cols: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """The fastest load each engine offers: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        return
    # SQLite: the driver's executemany, with dates and times rendered the way SQLAlchemy
    # stores them (memoised: a batch has few distinct dates and one `now`).
    converters = [_sqlite_converter(conn, table, c) for c in cols]
    if any(converters):
        pairs = [(i, f) for i, f in enumerate(converters) if f is not None]
        converted = []
        for row in rows:
            values = list(row)
            for i, f in pairs:
                values[i] = f(values[i])
            converted.append(values)
        rows = converted  # type: ignore[assignment]
    # Table and column names come from the models, never from input.
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"  # noqa: S608
    raw.cursor().executemany(sql, rows)


def _sqlite_converter(conn: Connection, table: Table, col: str) -> Any:
    """A memoised bind processor for the column, or None when the driver takes values as-is."""
    column = table.c[col]
    if not isinstance(column.type, UTCDateTime | Date | DateTime):
        return None
    impl = column.type.dialect_impl(conn.dialect)
    process = impl.bind_processor(conn.dialect)
    memo: dict[Any, Any] = {None: None}

    def convert(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            out = process(value) if process is not None else value
            memo[value] = out
            return out

    return convert


# -------------------------------------------------------------------- entry points


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
    items: Sequence[tuple[int, object]],
    *,
    skip_invalid: bool = False,
    source: str = "api",
) -> ImportResult:
    """Like `import_records`, for (line number, decoded value or raw JSON text) pairs."""
    ctx.session.flush()
    imp = Importer(ctx)
    checked = check_chunk(items, ctx.cipher, ctx.settings.key)
    accepted: list[tuple[LineRecord, Sealed, Any]] = []
    for start in range(0, len(checked), BATCH):
        accepted.extend(imp.accept(checked[start : start + BATCH]))
    if imp.result.errors and not skip_invalid:
        raise DomainError(
            "IMPORT_INVALID",
            f"{imp.result.invalid} invalid record(s); nothing was written",
            errors=[e.as_dict() for e in imp.result.errors],
        )
    for start in range(0, len(accepted), BATCH):
        imp.write(accepted[start : start + BATCH])
    result = imp.finish(source=source)
    ctx.session.expire_all()  # ORM objects loaded earlier must not shadow the bulk writes
    return result


def _numbered(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their numbers, as bytes: invalid UTF-8 is reported, not patched."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if raw.strip():
                yield n, raw


def _chunks(items: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))


def default_workers() -> int:
    """Processes that validate while the main one writes. Handing records between processes
    costs about a third more CPU in all, which pays only with cores to spare: the writer and
    the database engine (SQLite runs inside the writer) already keep two cores busy."""
    return max(1, min(4, (os.cpu_count() or 1) - 2))


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
    total = _count_lines(path)
    n_workers = workers if workers is not None else default_workers()
    pool: Executor | None = None
    if n_workers > 1 and total > 2 * BATCH:
        pool = ProcessPoolExecutor(
            n_workers, initializer=_init_worker, initargs=(runtime.settings.key,)
        )
    session = runtime.sessions()
    # Millions of long-lived small objects (the per-file checks) make every full collection
    # rescan them all; nothing here forms reference cycles, so collect once at the end.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    imp: Importer | None = None
    try:
        imp = Importer(runtime.context(session, actor="cli:import"))
        imp.prepare_bulk()
        writing = True
        with progress(f"importing {path.name}", total, enabled=show_progress) as tick:
            for checked in _checked_batches(path, pool, runtime):
                accepted = imp.accept(checked)
                if imp.result.errors and not skip_invalid:
                    writing = False
                if writing:
                    imp.write(accepted)
                tick(len(checked))
        imp.close()
        if imp.result.errors and not skip_invalid:
            session.rollback()
            imp.result.imported = imp.result.created = imp.result.updated = 0
            return imp.result
        result = imp.finish(source=path.name)
        session.commit()
        return result
    except BaseException:
        if imp is not None:
            with contextlib.suppress(BaseException):  # the first error is the one to report
                imp.close()
        session.rollback()
        raise
    finally:
        session.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if gc_was_enabled:
            gc.enable()
            gc.collect()


def _checked_batches(
    path: Path, pool: Executor | None, runtime: Runtime
) -> Iterator[list[Checked]]:
    """Checked batches in file order; with a pool, a few batches are checked ahead."""
    chunks = _chunks(_numbered(path), BATCH)
    if pool is None:
        cipher, key = runtime.cipher, runtime.settings.key
        for chunk in chunks:
            yield check_chunk(chunk, cipher, key)
        return
    ahead = 4
    pending = []
    for chunk in chunks:
        pending.append(pool.submit(_check_in_worker, chunk))
        if len(pending) >= ahead:
            yield pending.pop(0).result()
    for fut in pending:
        yield fut.result()
