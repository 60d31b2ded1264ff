"""Where an SMS about a line goes: the one home for that question.

An active line gets its own messages. A cancelled number is deprovisioned and, after
quarantine, someone else's: it receives nothing more (API.md). Its later messages (the
cancellation notice, the settlement, a true-up) go to another active line of the same owner
where there is one; else nowhere, and the message is recorded in the line's audit trail as not
sent, with the reason, so an operator can tell the subscriber asked for nothing they missed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from xiaohu.audit.service import line_event
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.service import send_sms
from xiaohu.runtime import Context

NO_OTHER_LINE = "line_cancelled_no_other_active_line"


def recipient(ctx: Context, line: Line) -> str | None:
    """The number that receives SMS about `line` now, or None."""
    if line.status != "cancelled":
        return line.msisdn
    # The owner's oldest other active line: the same one each time, so messages do not scatter.
    other: str | None = ctx.session.scalar(
        select(Line.msisdn)
        .where(Line.owner_id == line.owner_id, Line.id != line.id, Line.status == "active")
        .order_by(Line.id)
        .limit(1)
    )
    return other


def withheld(ctx: Context, line: Line, kind: str, at: dt.datetime) -> None:
    """Record that a message about `line` was not sent, and why."""
    line_event(
        ctx,
        "sms.not_sent",
        line.msisdn,
        line.province_code,
        {"kind": kind, "reason": NO_OTHER_LINE},
        at=at,
    )


def sms_about(
    ctx: Context, line: Line, text: str, kind: str, *, at: dt.datetime
) -> OutboxMessage | None:
    """Write an SMS about `line` to the outbox, addressed by `recipient`; None when there is
    nobody to send it to (recorded by `withheld`)."""
    to = recipient(ctx, line)
    if to is None:
        withheld(ctx, line, kind, at)
        return None
    return send_sms(ctx.session, to, text, kind, at=at, province_code=line.province_code)
