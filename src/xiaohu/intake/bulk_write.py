"""The bulk write path of an import: the fastest load each engine offers.

PostgreSQL `COPY` and SQLite `executemany` with values rendered the way SQLAlchemy stores them;
primary keys handed out in advance, in blocks, so most batches need no round trip; on PostgreSQL
a writer thread that runs a batch's statements while the next batch is prepared; batch lookups
with one array parameter instead of thousands of placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from xiaohu.kit.db import UTCDateTime

ID_BLOCK = 50_000  # PostgreSQL ids fetched per round trip
SQLITE_CACHE_KIB = 256 * 1024  # page cache while importing: random-key indexes stay in memory


class BulkWriter:
    """Where an import's statements run, and where its new ids come from."""

    def __init__(self, session: Session, pg: bool) -> None:
        self.session = session
        self.pg = pg
        self._ids: dict[str, list[int]] = {}
        self._id_block: dict[str, int] = {}
        self._next_sqlite_id: dict[str, int] = {}
        # Statements of a written batch run on this thread while the next batch is prepared;
        # whoever reads the database first waits for it (`drain`).
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._sqlite_cache: int | None = None

    def prepare(self) -> None:
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


def among(column: Any, values: Iterable[Any], pg: bool) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`: one parameter instead of
    thousands, so a batch lookup is not spent rendering and parsing placeholders."""
    values = list(values)
    if pg:
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def by_type(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Blind indexes grouped by ID type: owners are keyed (and indexed) on the pair."""
    out: dict[str, list[str]] = {}
    for id_type, id_index in keys:
        out.setdefault(id_type, []).append(id_index)
    return out


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
    converters = [sqlite_converter(conn, table, c) for c in cols]
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


def sqlite_converter(conn: Connection, table: Table, col: str) -> Any:
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
