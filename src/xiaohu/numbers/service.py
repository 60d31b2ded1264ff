"""The number pool: quarantine at cancellation, back to the owner on reversal, release later.

Why a quarantine (冷冻期): a recycled number (二次号) still receives the old owner's bank and
app codes; the pause gives platforms time to notice the change and the owner time to unbind.
Statuses: `quarantine` (resting), `available` (may be issued again), `assigned` (a line holds
it again after a reversal, or after its former owner reclaimed it during quarantine).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Table, update

from xiaohu.kit.db import upsert
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context

_NUMBERS: Table = NumberRecord.__table__  # type: ignore[assignment]


def quarantine(ctx: Context, line: Line, *, days: int | None = None) -> dt.datetime:
    """Put the line's number into quarantine for `days` (default: the home province's
    `quarantine_days`); returns when it ends. One upsert: a number that rested before (a
    cancellation reversed, then cancelled again) is simply put back."""
    now = ctx.now()
    if days is None:
        days = ctx.policy_for(line.province_code).quarantine_days
    until = now + dt.timedelta(days=days)
    upsert(
        ctx.session,
        _NUMBERS,
        {
            "msisdn": line.msisdn,
            "province_code": line.province_code,
            "status": "quarantine",
            "former_line_id": line.id,
            "cancelled_at": now,
            "quarantined_until": until,
            "released_at": None,
        },
        key=["msisdn"],
    )
    return until


def restore(ctx: Context, line: Line) -> NumberRecord:
    """A reversal takes the number back out of quarantine; refused once it was released or
    issued to someone else."""
    record = ctx.session.get(
        NumberRecord, line.msisdn, with_for_update=True, populate_existing=True
    )
    if record is None or record.status != "quarantine" or record.former_line_id != line.id:
        raise DomainError(
            "NUMBER_REISSUED",
            f"number {line.msisdn} is no longer in quarantine for this line",
        )
    record.status = "assigned"
    record.quarantined_until = None
    record.released_at = None
    ctx.session.flush()
    return record


def release_due(ctx: Context, now: dt.datetime) -> int:
    """Every number whose quarantine has passed becomes `available`; returns how many. One
    statement, so running it twice releases nothing the second time."""
    result = ctx.session.execute(
        update(NumberRecord)
        .where(NumberRecord.status == "quarantine", NumberRecord.quarantined_until <= now)
        .values(status="available", released_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def quarantined_for(ctx: Context, line: Line) -> NumberRecord | None:
    """The line's number, row-locked, if it rests in quarantine for this line now (not
    released, not yet due for release, not held by another line); else None."""
    record = ctx.session.get(
        NumberRecord, line.msisdn, with_for_update=True, populate_existing=True
    )
    if record is None or record.status != "quarantine" or record.former_line_id != line.id:
        return None
    if record.quarantined_until is not None and record.quarantined_until <= ctx.now():
        return None  # its quarantine is over: the release run returns it to the pool
    return record


def assign(ctx: Context, record: NumberRecord) -> None:
    """The number is held by its line again (a reclaim by the former owner)."""
    record.status = "assigned"
    record.quarantined_until = None
    record.released_at = None
    ctx.session.flush()
