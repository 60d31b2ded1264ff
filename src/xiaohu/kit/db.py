"""Database plumbing shared by every area: engine, sessions, base model, column types.

One transaction per request or job, owned by the caller (`transaction()` or the FastAPI
dependency); services only flush. SQLite ignores `SELECT ... FOR UPDATE`, so its write
transactions start with `BEGIN IMMEDIATE` and take the database write lock up front; reads
start with a plain `BEGIN` so they never wait on writers (WAL mode). On PostgreSQL a read-only
unit of work runs in autocommit (`_configure_postgresql` says why).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CursorResult,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator

# `session.info` key: the unit of work wrote outbox messages, to be delivered after its commit.
# Set by the outbox (`notifications.service`), read by whoever owns the transaction.
OUTBOX_WRITTEN = "xiaohu_outbox_pending"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Money is BIGINT fen everywhere; JSON is JSONB on PostgreSQL.
Fen = BigInteger
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite would otherwise drop the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def masked_url(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; for SQLite set WAL, foreign keys, a busy timeout and explicit BEGINs."""
    parsed = make_url(url)
    # A failed statement's message leaves out its parameters: they carry phone numbers, names
    # and ID numbers, and the message ends up in logs and tracebacks.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        # A connection per request thread (the server's thread pool has 40): an SQLite
        # connection is a file handle, and with fewer, requests beyond the pool waited for a
        # connection and timed out as 503 under a burst, while their writes queue on the
        # database's one write lock anyway.
        if parsed.database not in (None, "", ":memory:"):
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip on every checkout (a third of a one-query request).
    # A connection the server dropped fails its first statement instead; SQLAlchemy then
    # invalidates the pool, so a restart of PostgreSQL costs one failed request per process.
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_engine(url, **kwargs)
    _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    """A read-only unit of work runs in autocommit on PostgreSQL.

    Why: without a transaction there is no BEGIN and no ROLLBACK round trip, and above all no
    ROLLBACK at all: psycopg forgets every prepared statement of the connection on a rollback
    (and deallocates them), so a read that ended in one had its statements planned afresh each
    time, which for the check's one query cost several times the query itself. Each statement
    sees the data committed when it starts, which is what READ COMMITTED gives inside a
    transaction too. A read-only unit of work must not write (it would commit at once), so a
    write there is refused. Not applied to a connection already in a transaction (the tests'
    rolled-back outer transaction)."""

    @event.listens_for(engine, "set_connection_execution_options")
    def _readonly_autocommit(conn: Any, opts: dict[str, Any]) -> None:
        readonly = opts.get("xiaohu_readonly") and "isolation_level" not in opts
        if readonly and not conn.in_transaction():
            opts["isolation_level"] = "AUTOCOMMIT"

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes(
        conn: Any, _cursor: Any, _stmt: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is not None and (context.isinsert or context.isupdate or context.isdelete):
            options = conn.get_execution_options()
            if options.get("xiaohu_readonly") and options.get("isolation_level") == "AUTOCOMMIT":
                raise RuntimeError("a read-only unit of work tried to write")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (needed for
        # savepoints and BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("xiaohu_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Prepared:
    """A Core statement compiled once per dialect and run on the driver's cursor, for the
    hottest reads (the cancellation check).

    SQLAlchemy caches compiled SQL, but finds it by a cache key it derives from the statement
    on every execution, and builds result metadata for every cursor; for a select of a dozen
    correlated subqueries and two dozen columns that costs more than the query. Here the SQL
    string is made once (named parameters: `:name` on SQLite, `%(name)s` on psycopg), the
    constants of the statement become default parameters, and rows come back as named tuples
    of what the driver returns: no type processing (SQLite gives dates as text, PostgreSQL sums
    as Decimal), so the caller converts what it reads. Statement events still fire (profilers
    count these statements); a driver error is raised again through SQLAlchemy, so a dropped
    connection is noticed and the pool invalidated as for any other statement."""

    def __init__(self, build: Callable[[], Executable]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, dict[str, Any], Any]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, dict[str, Any], Any]:
        done = self._compiled.get(dialect.name)
        if done is None:
            target = dialect
            if dialect.paramstyle not in ("named", "pyformat"):
                target = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
            stmt: Any = self._build()
            compiled = stmt.compile(dialect=target, compile_kwargs={"render_postcompile": True})
            names = [c.key for c in stmt.selected_columns]
            done = (str(compiled), dict(compiled.params), namedtuple("Row", names))
            self._compiled[dialect.name] = done
        return done

    def all(self, session: Session, **params: Any) -> list[Any]:
        connection = session.connection()
        sql, defaults, row = self._for(connection.dialect)
        values = {**defaults, **params}
        dispatch = connection.dispatch
        cursor = connection.connection.cursor()
        try:
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            rows = [row._make(r) for r in cursor.fetchall()]
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
        except connection.dialect.loaded_dbapi.Error:
            cursor.close()
            connection.exec_driver_sql(sql, values)  # raises it as SQLAlchemy would
            raise
        cursor.close()
        return rows

    def first(self, session: Session, **params: Any) -> Any:
        rows = self.all(session, **params)
        return rows[0] if rows else None


def upsert(
    session: Session,
    table: Table,
    values: dict[str, Any],
    *,
    key: Sequence[str],
    returning: Any = None,
) -> CursorResult[Any]:
    """INSERT, or UPDATE the row with the same `key` (a unique constraint): one statement
    (`ON CONFLICT ... DO UPDATE`, PostgreSQL and SQLite alike) instead of a read then a write.
    The statement is built once per table and set of columns, then run with `values`."""
    connection = session.connection()
    stmt = _upsert_statement(connection.dialect.name, table, tuple(values), tuple(key), returning)
    return connection.execute(stmt, values)


@functools.lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...], returning: Any
) -> Any:
    """The upsert statement for a table and set of columns: a pure function of its (immutable)
    arguments, so it is built once and needs no reset."""
    base: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        base = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        base = sqlite_insert(table)
    changes = {c: base.excluded[c] for c in columns if c not in key}
    stmt = base.on_conflict_do_update(index_elements=list(key), set_=changes)
    return stmt.returning(returning) if returning is not None else stmt


def insert_missing(
    session: Session, table: Table, values: dict[str, Any], *, key: Sequence[str]
) -> int:
    """INSERT the row unless one with the same `key` exists (`ON CONFLICT DO NOTHING`,
    PostgreSQL and SQLite alike); returns 1 when it inserted, else 0."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    result = connection.execute(stmt.on_conflict_do_nothing(index_elements=list(key)), values)
    return int(result.rowcount or 0)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], *, readonly: bool = False) -> Iterator[Session]:
    """The one place a unit of work commits: commit on success, roll back on any error."""
    session = factory()
    if readonly:
        session.connection(execution_options={"xiaohu_readonly": True})
    try:
        yield session
        if readonly:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
