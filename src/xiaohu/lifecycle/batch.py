"""What every step of the lifecycle run shares: the policy terms bound per province, and a
range's outgoing messages and audit events, written in a few multi-row inserts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    Text,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.types import TypeEngine

from xiaohu.audit.service import append_many
from xiaohu.billing.models import Bill
from xiaohu.billing.rules import BillStatus
from xiaohu.kit.db import OUTBOX_WRITTEN, UTCDateTime
from xiaohu.lines.models import Line, LineStatus
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.rules import OutboxStatus
from xiaohu.policy.schema import Policy, Values
from xiaohu.runtime import Context

ACTOR = "run:lifecycle"
LINES: Table = Line.__table__  # type: ignore[assignment]
BILLS: Table = Bill.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
IN_ARREARS = (LineStatus.ARREARS_SUSPENDED, LineStatus.RETAINED)  # an arrears clock may run


@dataclass(frozen=True)
class Terms:
    """The policy values of the run's day: the defaults, and each province that overrides."""

    day: dt.date
    default: Values
    provinces: dict[str, Values]
    # A day the clock has already passed (the scheduler catching up after a pause): its
    # warnings would reach the subscriber after their day, some after the cancellation they
    # announce, so such a run sends none; the run of today sends the nearest one still ahead.
    past: bool = False

    @classmethod
    def of(cls, policy: Policy, day: dt.date, *, past: bool = False) -> Terms:
        codes = sorted({o.province for o in policy.overrides})
        return cls(
            day,
            policy.for_province("", day),
            {p: policy.for_province(p, day) for p in codes},
            past,
        )

    def values(self, province_code: str) -> Values:
        return self.provinces.get(province_code, self.default)

    def by_province(
        self, column: Any, value: Callable[[Values], Any], type_: TypeEngine[Any]
    ) -> ColumnElement[Any]:
        """A value per line's province, bound: a CASE over the provinces that differ from the
        defaults, else the default alone."""

        def bound(v: Any) -> ColumnElement[Any]:
            return null() if v is None else literal(v, type_)

        default = value(self.default)
        whens = {p: value(v) for p, v in self.provinces.items() if value(v) != default}
        if not whens:
            return bound(default)
        return case({p: bound(v) for p, v in whens.items()}, value=column, else_=bound(default))


@dataclass
class Batch:
    """What one range writes after its statements: outbox messages and audit events."""

    at: dt.datetime
    messages: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def send(self, province_code: str, message: tuple[str, dict[str, Any]]) -> None:
        self.messages.setdefault(province_code, []).append(message)

    def event(self, action: str, msisdn: str, province_code: str, data: dict[str, Any]) -> None:
        self.events.append(
            {
                "at": self.at,
                "actor": ACTOR,
                "action": action,
                "subject": f"line:{msisdn}",
                "province_code": province_code,
                "data": data,
            }
        )

    def write(self, ctx: Context) -> None:
        """The outbox rows (as `notifications.service.enqueue_many` writes them, in multi-row
        inserts), then the audit events."""
        rows = [
            {"topic": topic, "payload": payload, "province_code": p, "created_at": self.at}
            for p in sorted(self.messages)
            for topic, payload in self.messages[p]
        ]
        if rows:
            insert_rows(ctx.session.connection(), OUTBOX, rows)
            ctx.session.info[OUTBOX_WRITTEN] = True
        if self.events:  # last: the audit chain heads stay locked until commit
            append_many(ctx.session, self.events)


def other_active_lines(ctx: Context, owners: set[int]) -> dict[int, list[tuple[int, str]]]:
    """Each owner's active lines (id, msisdn), oldest first."""
    out: dict[int, list[tuple[int, str]]] = {}
    if not owners:
        return out
    for owner_id, line_id, msisdn in ctx.session.execute(
        select(LINES.c.owner_id, LINES.c.id, LINES.c.msisdn)
        .where(LINES.c.owner_id.in_(sorted(owners)), LINES.c.status == LineStatus.ACTIVE)
        .order_by(LINES.c.id)
    ):
        out.setdefault(owner_id, []).append((line_id, msisdn))
    return out


def insert_rows(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Many rows in one executemany: on PostgreSQL psycopg pipelines them (no round trip a
    row, the statement parsed once); SQLite's executemany is a loop in C. (Multi-row VALUES
    statements measured slower on both: compiled, or parsed by the driver, afresh each time.)"""
    if rows:
        connection.execute(table.insert(), rows)


def json_doc(dialect: str, **fields: Any) -> ColumnElement[Any]:
    """A JSON object built by the database, for an INSERT ... SELECT into a JsonDoc column."""
    build = func.jsonb_build_object if dialect == "postgresql" else func.json_object
    args: list[Any] = []
    for key, value in fields.items():
        args += [cast(literal(key), Text), value]
    return build(*args)


def masked(msisdn: Any) -> ColumnElement[str]:
    """`identity.rules.mask_msisdn` in SQL: 138****0001 (numbers are 11 digits)."""
    return func.substr(msisdn, 1, 3).concat("****").concat(func.substr(msisdn, 8, 4))


def outbox_from_lines(
    ctx: Context, ids: list[int], at: dt.datetime, messages: list[tuple[str, Any]]
) -> None:
    """The outbox rows of `messages` ((topic, payload built from LINES' columns)) for each
    line of `ids`, as INSERT ... SELECT: the database writes them, no row goes over the wire."""
    if not ids:
        return
    connection = ctx.session.connection()
    columns = ["topic", "payload", "province_code", "created_at", "attempts", "status"]
    for topic, payload in messages:
        rows = select(
            cast(literal(topic), Text),
            payload,
            LINES.c.province_code,
            literal(at, UTCDateTime()),
            literal(0, Integer()),
            cast(literal(OutboxStatus.PENDING.value), Text),
        ).where(LINES.c.id.in_(ids))
        connection.execute(OUTBOX.insert().from_select(columns, rows))
    ctx.session.info[OUTBOX_WRITTEN] = True


def status_in(*statuses: str) -> ColumnElement[bool]:
    """The line's status is one of `statuses`, tested on `status || ''` so that no index on
    status is used: in a range of ids the ids are the selective part, and a planner that took
    the (status, arrears_since) index would walk every line of that status in the whole
    table for each range (measured: the run grew as the square of the lines)."""
    return LINES.c.status.concat("").in_(statuses)


def owes() -> ColumnElement[bool]:
    """The line has an unpaid bill."""
    return exists().where(BILLS.c.line_id == LINES.c.id, BILLS.c.status == BillStatus.UNPAID)


def clock_started_by(
    in_range: ColumnElement[bool], limit: Any, *extra: ColumnElement[Any]
) -> Select[Any]:
    """The lines of the range in arrears (suspended, or retained with a fee overdue) whose
    arrears clock started on or before `limit` (a day, or a day per province), by id: who they
    are (id, msisdn, province, owner, status, arrears_since) and the `extra` columns."""
    return (
        select(
            LINES.c.id,
            LINES.c.msisdn,
            LINES.c.province_code,
            LINES.c.owner_id,
            LINES.c.status,
            LINES.c.arrears_since,
            *extra,
        )
        .where(
            in_range,
            status_in(*IN_ARREARS),
            LINES.c.arrears_since.is_not(None),
            LINES.c.arrears_since <= limit,
            # A retained line's clock runs while a fee is unpaid: one paid off is never warned
            # or cancelled, even before the payment has cleared `arrears_since`.
            or_(LINES.c.status != LineStatus.RETAINED, owes()),
        )
        .order_by(LINES.c.id)
    )
