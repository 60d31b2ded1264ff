"""The daily lifecycle run: arrears suspension, warnings, automatic cancellation, numbers back
to the pool (API.md "Lifecycle").

Why it looks the way it does: a million lines with tens of thousands in arrears. The run walks
the lines in ranges of ids (`CHUNK`), one transaction each, and in each range every step is a
statement over the range, not a loop over lines: the suspensions are one UPDATE ... RETURNING
whose condition binds each province's cut-off day (a CASE over the provinces whose policy
differs from the defaults), the warnings one SELECT of the lines inside their warning window,
the cancellations one SELECT of the lines whose arrears clock has run its months. What follows
a statement (the SMS, the provisioning orders, the journal, the audit events) goes out in
multi-row inserts. The cursor of the last range committed is recorded in that range's own
transaction (`scheduling.Holder.advance`), so a killed run resumes after it.

Safe to repeat: every write is guarded by the data (only an `active` line is suspended, only a
line still in arrears is cancelled, a warning is one row per offset in `lifecycle_warnings`),
so a second run of the same day finds nothing and reports zeros.

Order inside a range, and why: cancellations first (a line cancelled today is not warned
today), then the end of retention at its maximum, then suspensions (a line whose retention
just ended is judged as any active line), then the arrears clock of retained lines, then the
warnings (which see today's state). Numbers whose quarantine is over are released at the end,
in the transaction that marks the run done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
    update,
)

from xiaohu.billing.models import Bill
from xiaohu.billing.rules import BillStatus
from xiaohu.cancellation.cycle import add_reports
from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR
from xiaohu.kit.clock import FrozenClock, local_date, start_of_day
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.kit.progress import progress
from xiaohu.lifecycle import rules
from xiaohu.lifecycle.auto_cancel import cancel_lines
from xiaohu.lifecycle.batch import (
    ACTOR,
    LINES,
    Batch,
    Terms,
    clock_started_by,
    insert_rows,
    json_doc,
    masked,
    other_active_lines,
    outbox_from_lines,
    status_in,
)
from xiaohu.lifecycle.models import CancellationWarning
from xiaohu.lines.models import Line, LineStatus
from xiaohu.notifications.models import OutboxTopic
from xiaohu.notifications.service import provisioning_message, sms_message
from xiaohu.numbers.service import release_due
from xiaohu.runtime import Context, Runtime
from xiaohu.scheduling.service import holding

JOB = "lifecycle"
CHUNK = 20_000  # line ids a transaction
REPORTED = (
    "suspended",
    "warned",
    "cancelled",
    "released",
    "retention_ended",
    "arrears_started",
    "written_off_fen",
    "refunded_fen",
)

_LINES = LINES
_BILLS: Table = Bill.__table__  # type: ignore[assignment]
_WARNINGS: Table = CancellationWarning.__table__  # type: ignore[assignment]


def run_lifecycle(runtime: Runtime, day: dt.date, *, show_progress: bool | None) -> dict[str, Any]:
    """The lifecycle of `day` on every node at once (each holds its provinces' lines), the
    counts added up, without progress bars; one node: the run below as it is."""
    if not runtime.nodes.national:
        return lifecycle_on_node(runtime, day, show_progress=show_progress)
    reports = runtime.on_every_node(lambda rt: lifecycle_on_node(rt, day, show_progress=False))
    return {**add_reports(list(reports.values())), "nodes": reports}


def lifecycle_on_node(
    runtime: Runtime, day: dt.date, *, show_progress: bool | None
) -> dict[str, Any]:
    """The lifecycle of `day` on the runtime's node; the report counts what this run did."""
    with transaction(runtime.sessions, readonly=True) as session:
        now = runtime.clock_for(session).now()
        low, top = session.execute(select(func.min(Line.id), func.max(Line.id))).one()
        low, top = int(low or 1) - 1, int(top or 0)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise DomainError(
            "VALIDATION_FAILED",
            f"{day.isoformat()}: the year must be between {MIN_YEAR} and {MAX_YEAR}",
            errors=[{"field": "date", "reason": f"a year from {MIN_YEAR} to {MAX_YEAR}"}],
        )
    if now < start_of_day(day):
        raise DomainError(
            "VALIDATION_FAILED",
            f"{day.isoformat()} has not begun; it is {now.isoformat()}",
            errors=[{"field": "date", "reason": "a day the clock has not reached"}],
        )
    at = rules.run_instant(day, now)
    terms = Terms.of(runtime.policy, day, past=day < local_date(now))
    clock = FrozenClock(at)
    with holding(runtime, JOB) as holder:
        with transaction(runtime.sessions) as session:
            holder.start(session, day.isoformat(), at)
        report: dict[str, Any] = {k: int(holder.report.get(k, 0)) for k in REPORTED}
        after = max(int(holder.cursor), low) if holder.cursor else low
        starts = range(after, top, CHUNK)
        with progress(f"lifecycle {day}", len(starts), enabled=show_progress) as tick:
            for lo in starts:
                hi = min(lo + CHUNK, top)
                with transaction(runtime.sessions) as session:
                    ctx = Context(runtime, session, clock, ACTOR)
                    run_range(ctx, terms, lo, hi, report)
                    holder.advance(session, str(hi), report, at)
                tick(1)
        with transaction(runtime.sessions) as session:
            report["released"] = release_due(Context(runtime, session, clock, ACTOR), at)
            holder.finish(session, report, at)
        resumed = holder.resumed
    return {"date": day.isoformat(), **report, "resumed": resumed}


def deliver_all(runtime: Runtime) -> int:
    """Deliver what the run wrote to the outbox now (the command and the sandbox endpoint, so
    the SMS are there when they answer); the run itself leaves it to the delivery thread."""
    total = 0
    for _ in range(10_000):
        done = runtime.deliver_outbox(limit=500)
        total += done
        if done == 0:
            break
    return total


def run_range(ctx: Context, terms: Terms, lo: int, hi: int, report: dict[str, Any]) -> None:
    """Every step for the lines with ids in (lo, hi], in the caller's transaction."""
    batch = Batch(ctx.now())
    in_range = and_(_LINES.c.id > lo, _LINES.c.id <= hi)
    cancelled = cancel_lines(ctx, terms, in_range, batch)
    report["cancelled"] += cancelled.lines
    report["written_off_fen"] += cancelled.written_off_fen
    report["refunded_fen"] += cancelled.refunded_fen
    report["retention_ended"] += _end_retention(ctx, terms, in_range, batch)
    report["suspended"] += _suspend(ctx, terms, in_range, batch)
    report["arrears_started"] += _start_retained_clock(ctx, terms, in_range, batch)
    report["warned"] += _warn(ctx, terms, lo, hi, in_range, batch)
    batch.write(ctx)


def _overdue(terms: Terms) -> ColumnElement[bool]:
    """The line has a bill unpaid after its due date plus the province's grace days."""
    cutoff = terms.by_province(
        _LINES.c.province_code,
        lambda v: terms.day - dt.timedelta(days=v.arrears_grace_days),
        Date(),
    )
    # `coalesce(due_on, due_on)`: the same value, but no index on (status, due_on) for it:
    # SQLite otherwise walks every overdue bill for each line instead of the line's own bills
    # by (line_id, status).
    return exists().where(
        _BILLS.c.line_id == _LINES.c.id,
        _BILLS.c.status == BillStatus.UNPAID,
        func.coalesce(_BILLS.c.due_on, _BILLS.c.due_on) < cutoff,
    )


def _changed(at: dt.datetime) -> dict[str, Any]:
    return {"updated_at": at, "version": _LINES.c.version + 1}


def _end_retention(ctx: Context, terms: Terms, in_range: ColumnElement[bool], b: Batch) -> int:
    """Retained lines at the policy's longest stay: active again (the plan resumes), or, with
    an arrears clock running, arrears-suspended with the same clock."""
    limit = terms.by_province(
        _LINES.c.province_code,
        lambda v: (
            rules.latest_start(terms.day, v.retention_max_months)
            if v.retention_max_months
            else None
        ),
        Date(),
    )
    started = func.coalesce(_LINES.c.retention_starts_on, _LINES.c.retained_on)
    owing = _LINES.c.arrears_since.is_not(None)
    rows = (
        ctx.session.connection()
        .execute(
            update(_LINES)
            .where(in_range, status_in(LineStatus.RETAINED), started <= limit)
            .values(
                status=case((owing, LineStatus.ARREARS_SUSPENDED), else_=LineStatus.ACTIVE),
                status_reason=case((owing, "retention_ended_in_arrears"), else_="retention_ended"),
                status_changed_at=b.at,
                **_changed(b.at),
            )
            .returning(_LINES.c.msisdn, _LINES.c.province_code, _LINES.c.status)
        )
        .all()
    )
    for msisdn, p, status in rows:
        in_arrears = status == LineStatus.ARREARS_SUSPENDED
        if not in_arrears:
            b.send(p, provisioning_message(msisdn, "restore"))
        b.send(
            p,
            sms_message(msisdn, rules.retention_ended_text(msisdn, in_arrears), "retention.ended"),
        )
        b.event(
            "line.retention_ended",
            msisdn,
            p,
            {"from": LineStatus.RETAINED, "to": status, "reason": "retention_max_months"},
        )
    return len(rows)


def _suspend(ctx: Context, terms: Terms, in_range: ColumnElement[bool], b: Batch) -> int:
    """Active lines with an overdue bill: arrears-suspended from today, service stopped."""
    connection = ctx.session.connection()
    rows = connection.execute(
        update(_LINES)
        .where(in_range, status_in(LineStatus.ACTIVE), _overdue(terms))
        .values(
            status=LineStatus.ARREARS_SUSPENDED,
            status_reason="arrears",
            status_changed_at=b.at,
            arrears_since=terms.day,
            **_changed(b.at),
        )
        .returning(_LINES.c.id, _LINES.c.msisdn, _LINES.c.province_code)
    ).all()
    # The provisioning order and the SMS (`notifications.service.provisioning_message`'s and
    # `sms_message`'s shapes) written by the database: the bulk of a day's messages.
    dialect = connection.dialect.name
    text = (
        literal(rules.SUSPENDED_TEXT[0], Text())
        .concat(masked(_LINES.c.msisdn))
        .concat(literal(rules.SUSPENDED_TEXT[1], Text()))
    )
    outbox_from_lines(
        ctx,
        [r.id for r in rows],
        b.at,
        [
            (OutboxTopic.PROVISIONING, json_doc(dialect, msisdn=_LINES.c.msisdn,
                                                action=cast(literal("suspend"), Text))),
            (OutboxTopic.SMS, json_doc(dialect, to=_LINES.c.msisdn, text=text,
                                       kind=cast(literal("arrears.suspended"), Text))),
        ],
    )  # fmt: skip
    for _, msisdn, p in rows:
        b.event(
            "line.arrears_suspended",
            msisdn,
            p,
            {"from": LineStatus.ACTIVE, "to": LineStatus.ARREARS_SUSPENDED,
             "arrears_since": terms.day.isoformat()},
        )  # fmt: skip
    return len(rows)


def _start_retained_clock(
    ctx: Context, terms: Terms, in_range: ColumnElement[bool], b: Batch
) -> int:
    """A retained line with an overdue fee: the arrears clock starts today (it stays
    retained; the automatic cancellation counts from today)."""
    rows = (
        ctx.session.connection()
        .execute(
            update(_LINES)
            .where(
                in_range,
                status_in(LineStatus.RETAINED),
                _LINES.c.arrears_since.is_(None),
                _overdue(terms),
            )
            .values(arrears_since=terms.day, **_changed(b.at))
            .returning(_LINES.c.msisdn, _LINES.c.province_code)
        )
        .all()
    )
    for msisdn, p in rows:
        b.event("line.arrears_started", msisdn, p, {"arrears_since": terms.day.isoformat()})
    return len(rows)


def _warn(
    ctx: Context, terms: Terms, lo: int, hi: int, in_range: ColumnElement[bool], b: Batch
) -> int:
    """SMS warnings before the automatic cancellation: lines inside their widest warning
    window whose nearest due offset has no row yet; one SMS a line (to it and to the owner's
    other active lines), a row for each offset due."""
    if terms.past:
        return 0
    widest = terms.by_province(
        _LINES.c.province_code,
        lambda v: rules.latest_start(
            terms.day + dt.timedelta(days=max(v.auto_cancel_warning_days, default=0)),
            v.auto_cancel_after_arrears_months,
        ),
        Date(),
    )
    session = ctx.session
    candidates = session.execute(clock_started_by(in_range, widest)).all()
    if not candidates:
        return 0
    recorded: dict[tuple[int, dt.date], set[int]] = {}
    for line_id, since, k in session.execute(
        select(_WARNINGS.c.line_id, _WARNINGS.c.arrears_since, _WARNINGS.c.days_before).where(
            _WARNINGS.c.line_id > lo, _WARNINGS.c.line_id <= hi
        )
    ):
        recorded.setdefault((line_id, since), set()).add(int(k))
    rows: list[dict[str, Any]] = []
    warned: list[tuple[Any, dt.date]] = []
    for c in candidates:
        v = terms.values(c.province_code)
        cancel_on = rules.cancel_day(c.arrears_since, v.auto_cancel_after_arrears_months)
        if cancel_on <= terms.day:
            continue  # cancelled by this run already, or not (a line another run holds)
        due = rules.due_offsets(cancel_on, terms.day, v.auto_cancel_warning_days)
        new, send = rules.to_send(due, recorded.get((c.id, c.arrears_since), ()))
        rows += [
            {
                "line_id": c.id,
                "arrears_since": c.arrears_since,
                "days_before": k,
                "province_code": c.province_code,
                "cancel_on": cancel_on,
                "sent_at": b.at,
            }
            for k in new
        ]
        if send:
            warned.append((c, cancel_on))
    if rows:
        insert_rows(session.connection(), _WARNINGS, rows)
    others = other_active_lines(ctx, {c.owner_id for c, _ in warned})
    for c, cancel_on in warned:
        text = rules.warning_text(c.msisdn, cancel_on, terms.day)
        for to in [c.msisdn, *(m for lid, m in others.get(c.owner_id, []) if lid != c.id)]:
            b.send(c.province_code, sms_message(to, text, "auto_cancel.warning"))
        b.event(
            "line.auto_cancel_warned",
            c.msisdn,
            c.province_code,
            {"cancel_on": cancel_on.isoformat(), "days_before": (cancel_on - terms.day).days},
        )
    return len(warned)
