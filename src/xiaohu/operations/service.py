"""What the operations endpoints read: readiness (the database answers, the schema is at the
migrations' head) and the store's gauges for /metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from xiaohu.billing.models import Refund
from xiaohu.kit.migrate import alembic_config
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Runtime

OK = "ok"


@dataclass(frozen=True)
class Migrations:
    """The head revision(s) of the shipped scripts, read once at start-up, and the revisions
    they know (to tell a database behind from one some newer code migrated)."""

    heads: frozenset[str]
    known: frozenset[str]

    @classmethod
    def shipped(cls) -> Migrations:
        script = ScriptDirectory.from_config(alembic_config("sqlite://"))
        known = frozenset(rev.revision for rev in script.walk_revisions())
        return cls(frozenset(script.get_heads()), known)

    def state(self, current: set[str]) -> str:
        """`ok`, or what is wrong: 'behind: at 0002_outbox, head 0003_signin'."""
        head = ", ".join(sorted(self.heads))
        if current == self.heads:
            return OK
        if not current:
            return f"not migrated: no version, head {head}"
        at = ", ".join(sorted(current))
        if current <= self.known:
            return f"behind: at {at}, head {head}"
        return f"unknown: at {at} (a newer release?), head {head}"


def readiness(runtime: Runtime, migrations: Migrations) -> dict[str, str]:
    """Each part's state: `ok` or why not. The service is ready when all are `ok`."""
    try:
        with runtime.engine.connect().execution_options(xiaohu_readonly=True) as conn:
            conn.execute(text("SELECT 1"))
            try:  # the last statement: a missing table spoils nothing after it
                rows = conn.execute(text("SELECT version_num FROM alembic_version"))
                current = {str(r[0]) for r in rows}
            except SQLAlchemyError:
                current = set()
    except SQLAlchemyError:
        return {"database": "unreachable", "migrations": "unknown: no database"}
    return {"database": OK, "migrations": migrations.state(current)}


@dataclass
class StoreGauges:
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, status) -> n
    oldest_pending: dict[str, float] = field(default_factory=dict)  # topic -> seconds
    payouts_failed: int = 0
    payouts_failed_fen: int = 0


def store_gauges(runtime: Runtime) -> StoreGauges:
    """Two grouped reads a node: the outbox not delivered (the status index), failed refunds;
    added up over every node of a national deployment (the oldest pending is the oldest of
    all). A node that does not answer is left out (`/healthz` names it)."""
    gauges = StoreGauges()
    nodes = runtime.each_node()
    for rt in nodes:
        try:
            _add_node_gauges(rt, gauges)
        except SQLAlchemyError:
            if len(nodes) == 1:
                raise
    return gauges


def _add_node_gauges(runtime: Runtime, gauges: StoreGauges) -> None:
    with runtime.sessions() as session:
        session.connection(execution_options={"xiaohu_readonly": True})
        now = runtime.clock_for(session).now()
        rows = session.execute(
            select(
                OutboxMessage.topic,
                OutboxMessage.status,
                func.count(),
                func.min(OutboxMessage.created_at),
            )
            .where(OutboxMessage.status.in_(("pending", "dead")))
            .group_by(OutboxMessage.topic, OutboxMessage.status)
        )
        for topic, status, count, oldest in rows:
            gauges.outbox[(topic, status)] = gauges.outbox.get((topic, status), 0) + count
            if status == "pending" and oldest is not None:
                age = max(0.0, (now - _aware(oldest)).total_seconds())
                gauges.oldest_pending[topic] = max(age, gauges.oldest_pending.get(topic, 0.0))
        count, fen = session.execute(
            select(func.count(), func.coalesce(func.sum(Refund.amount_fen), 0)).where(
                Refund.status == "failed"
            )
        ).one()
        gauges.payouts_failed += int(count)
        gauges.payouts_failed_fen += int(fen)
        session.rollback()


def _aware(at: dt.datetime) -> dt.datetime:
    # func.min() bypasses the UTC column type on SQLite, which returns the stored text.
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
