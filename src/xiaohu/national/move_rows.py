"""Which rows are a province's, table by table, found by walking the schema (`Base.metadata`).

A table is the province's where a column names the province: `province_code`, or
`home_province` (work orders, whose `province_code` would be the store's), or, for the
inbox of messages between provinces, `to_province` (the province that applied them, so its
de-duplication moves with it). A table without one belongs by its first foreign key to a
table that is the province's (a journal entry by its transaction). Owners are the parents
of lines: the province's lines' owners are copied, and removed from the source only when
no line there still points at them (one person may hold lines in two provinces).

Not moved: reference data every node holds (stores, staff), and rows of no province (job
runs, platforms, settlement runs, idempotency records). Ledger accounts are copied (the
target may post to them) and left on the source, where another province's entries may
still name them. The outbox moves only what is not delivered yet (what was delivered is
the source's history), and never a message between provinces, which names its addressee.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, MetaData, Table, and_, or_, select

EVERY_NODE = frozenset({"stores", "staff"})  # reference data: on every node, never moved
COPY_ONLY = frozenset({"ledger_accounts"})
# Tables a trigger keeps append-only: the move is the one thing that removes rows from them
# (a province's whole hash chain, which goes on on the target), with the trigger off inside
# the move's own transaction only, so no other writer ever sees it off.
APPEND_ONLY = {"audit_events": "audit_events_append_only"}
PROVINCE_COLUMNS = ("home_province", "province_code", "to_province")
INTERPROVINCE = "interprovince"  # the outbox topic of messages between provinces
OWNERS = "owners"


@dataclass(frozen=True)
class Part:
    """One table's share of a province: the rows `where` selects (on a connection where
    the parent tables still hold the province's rows)."""

    table: Table
    where: ColumnElement[bool]
    delete: bool = True  # removed from the source once copied

    @property
    def name(self) -> str:
        return self.table.name


def province_parts(metadata: MetaData, province: str) -> list[Part]:
    """The province's share of every table of `metadata` (every area's models loaded: the
    caller imports `xiaohu.models`), parents before children."""
    parts: dict[str, Part] = {}
    for table in metadata.sorted_tables:
        part = _part(table, province, parts)
        if part is not None:
            parts[table.name] = part
    accounts, entries = parts.get("ledger_accounts"), parts.get("journal_entries")
    if accounts is not None and entries is not None:
        # The accounts the province's entries post to, whoever's they are: the target may
        # not have made them yet, and the entries point at them.
        posted = select(entries.table.c.account_code).where(entries.where)
        where = or_(accounts.where, accounts.table.c.code.in_(posted))
        parts["ledger_accounts"] = Part(accounts.table, where, delete=False)
    lines = parts.get("lines")
    owners: Table = metadata.tables[OWNERS]
    if lines is not None:
        line_owner = select(lines.table.c.owner_id).where(lines.where)
        owner_part = Part(owners, owners.c.id.in_(line_owner), delete=False)
        # Owners first: the lines point at them.
        return [owner_part, *parts.values()]
    return list(parts.values())


def _part(table: Table, province: str, parts: dict[str, Part]) -> Part | None:
    if table.name in EVERY_NODE or table.name == OWNERS:
        return None
    if table.name == "audit_chain_heads":  # one hash chain per province, named by its code
        return Part(table, table.c.chain == province)
    for column in PROVINCE_COLUMNS:
        if column in table.c:
            where = table.c[column] == province
            if table.name == "outbox":
                # An SMS or a provisioning order of the province's lines moves with them; a
                # message between provinces names its addressee there, not its owner: it stays
                # with the node that wrote it, whose relay sends it to the province's queue,
                # consumed wherever the province lives (the target's own messages to it too).
                where = and_(
                    where, table.c.delivered_at.is_(None), table.c.topic != INTERPROVINCE
                )
            return Part(table, where, delete=table.name not in COPY_ONLY)
    columns = list(table.c)
    for fk in sorted(table.foreign_keys, key=lambda fk: columns.index(fk.parent)):
        # In column order: the first parent that is the province's.
        parent = parts.get(fk.column.table.name)
        if parent is not None and parent.delete:
            keys = select(fk.column).where(parent.where)
            return Part(table, fk.parent.in_(keys))
    return None


def self_parent(table: Table) -> tuple[str, str] | None:
    """A table whose rows point at rows of the same table (an invoice at the one it
    corrects): (column, referenced column), so the copy inserts the parents first."""
    for fk in table.foreign_keys:
        if fk.column.table is table:
            return fk.parent.name, fk.column.name
    return None
