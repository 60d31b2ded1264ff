"""The number pool: quarantine at cancellation, back to the owner on reversal, release later.

Why a quarantine (冷冻期): a recycled number (二次号) still receives the old owner's bank and
app codes; the pause gives platforms time to notice the change and the owner time to unbind.
Statuses: `quarantine` (resting), `available` (may be issued again), `assigned` (a line holds
it again after a reversal).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context


def quarantine(ctx: Context, line: Line) -> NumberRecord:
    """Put the line's number into quarantine for the home province's `quarantine_days`."""
    now = ctx.now()
    days = ctx.policy_for(line.province_code).quarantine_days
    record = ctx.session.get(NumberRecord, line.msisdn)
    if record is None:
        record = NumberRecord(msisdn=line.msisdn, province_code=line.province_code)
        ctx.session.add(record)
    record.status = "quarantine"
    record.former_line_id = line.id
    record.cancelled_at = now
    record.quarantined_until = now + dt.timedelta(days=days)
    record.released_at = None
    ctx.session.flush()
    return record


def restore(ctx: Context, line: Line) -> NumberRecord:
    """A reversal takes the number back out of quarantine; refused once it was released or
    issued to someone else."""
    record = ctx.session.get(NumberRecord, line.msisdn, with_for_update=True)
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
