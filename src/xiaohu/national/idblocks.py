"""Id blocks: each node hands out its generated integer ids from a range of its own.

A province moves between nodes with its rows' ids kept (`national.move`): the foreign keys
that point at them need no rewriting, and the inbox's and the outbox's ids stay true. That is
safe only if no two nodes ever hand out the same id, so node number `block` (its place in the
node map) starts every sequence at `block * 2**40 + 1`: about a trillion ids per node, for
every table, far past a billion lines. PostgreSQL only: SQLite is a single-node deployment.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

BLOCK_BITS = 40


def block_start(block: int) -> int:
    return block * 2**BLOCK_BITS + 1


def set_id_block(engine: Engine, block: int) -> int:
    """Move every integer sequence of the database below its block's start up to it; returns
    how many moved. Safe to repeat: a sequence already in its block is left where it is."""
    if engine.dialect.name != "postgresql" or block <= 0:
        return 0  # block 0 starts at 1, where every sequence starts anyway
    start = block_start(block)
    moved = 0
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT schemaname, sequencename FROM pg_sequences "
                "WHERE data_type = 'bigint'::regtype AND schemaname = current_schema()"
            )
        ).all()
        for schema, name in rows:
            qualified = f'"{schema}"."{name}"'
            # The sequence itself (pg_sequences shows no value before the first nextval()).
            # A name read from the catalog, quoted: nothing from outside goes in the SQL.
            read = text(f"SELECT last_value FROM {qualified}")  # noqa: S608
            last = conn.execute(read).scalar_one()
            if last >= start:
                continue
            # is_called = false: the next nextval() answers `start` itself.
            conn.execute(
                text("SELECT setval(CAST(:s AS regclass), :v, false)"), {"s": qualified, "v": start}
            )
            moved += 1
    return moved
