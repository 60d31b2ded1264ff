"""Any sequence of days passing (what the scheduler runs: the close-cycle of each period that
ended, then the lifecycle of each day), payments, retention, reactivations and usage on lines
of three provinces keeps the lifecycle's promises after every step:

- the books: the trial balance zero, each line's cash and gift equal to its sub-ledgers;
- statuses move only along the lifecycle's arrows (what each step may do to them);
- `arrears_since`: never on an active line, always on an arrears-suspended one, on a retained
  one exactly while a bill is overdue, and the day after the due date of the bill that started
  the clock;
- a cancelled line gets no bill afterwards; no bill twice for (line, period, kind);
- a warning offset at most once for one arrears clock, never more SMS than offsets recorded;
- the audit chains intact at the end.

Each example runs on a connection of its own inside a transaction rolled back afterwards (the
runs open their own sessions, which join it through savepoints), so examples do not see each
other; the days pass through `scheduler.tick`, exactly as `xiaohu scheduler` runs them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.conftest import isolated_runtime
from tests.factories import line_record, owner
from xiaohu.audit.service import verify
from xiaohu.billing.models import Bill
from xiaohu.billing.service import add_usage, pay
from xiaohu.cancellation.models import Cancellation
from xiaohu.intake.importer import import_records
from xiaohu.kit.clock import SHANGHAI, FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.lifecycle import rules
from xiaohu.lifecycle.models import CancellationWarning
from xiaohu.lifecycle.scheduler import tick
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.retention import service as retention
from xiaohu.runtime import Context, Runtime
from xiaohu.sandbox.service import set_clock

START = dt.date(2026, 11, 24)
AFTERWARDS = 45  # days that pass after each sequence
PLAN = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
PROVINCES = ("11", "44", "33")
# Refusals a subscriber can meet on the way; anything else is a bug.
EXPECTED = {
    "RETENTION_BLOCKED",  # owes, already retained, suspended, cancelled
    "ARREARS",  # reactivation while something is owed
    "NOT_SUSPENDED",  # reactivation of an active or cancelled line
    "PAYMENT_EXCEEDS_OWED",  # a cancelled line takes payments only up to what it owes
    "ALREADY_CANCELLED",
}
# What each kind of step may do to a status (besides leaving it): the runs suspend, end a
# retention, cancel; a payment restores a suspended line; retention and reactivation online.
RUN_MOVES = {
    "active": {"arrears_suspended", "cancelled"},
    "arrears_suspended": {"cancelled"},
    "retained": {"active", "arrears_suspended", "cancelled"},
    "cancelled": set(),
}
MOVES: dict[str, dict[str, set[str]]] = {
    "advance": RUN_MOVES,
    "pay": {"arrears_suspended": {"active"}},
    "retain": {"active": {"retained"}},
    "reactivate": {"retained": {"active"}, "arrears_suspended": {"active"}},
    "usage": {},
}

days = st.tuples(st.just("advance"), st.sampled_from([1, 3, 7, 16, 30]))
line_index = st.integers(0, len(PROVINCES) - 1)
ops = st.lists(
    st.one_of(
        days,
        days,  # days pass about as often as anything else happens
        st.tuples(st.just("pay"), line_index, st.sampled_from([500, 1000, 2000, 3000, 9000])),
        st.tuples(st.just("retain"), line_index),
        st.tuples(st.just("reactivate"), line_index),
        st.tuples(st.just("usage"), line_index, st.integers(1, 2000)),
    ),
    min_size=2,
    max_size=8,
)
# How each line starts: its state at the import and its cash.
starts = st.lists(
    st.tuples(
        st.sampled_from(["active", "owing", "suspended", "retained"]),
        st.sampled_from([0, 500, 1000, 3500, 8000]),
    ),
    min_size=3,
    max_size=3,
)


def record(province: str, start: str, cash: int) -> dict[str, Any]:
    """An import record: active; active with a bill due tomorrow; suspended for arrears since
    5 October; retained since 10 September (the fee from October)."""
    extra: dict[str, Any] = {}
    if start == "owing":
        cash = 0
        extra["unpaid_bills"] = [{"period": "2026-10", "amount_fen": 3000, "due_on": "2026-11-25"}]
    elif start == "suspended":
        cash = 0
        extra.update(
            status="arrears_suspended",
            suspended_on="2026-10-05",
            unpaid_bills=[{"period": "2026-09", "amount_fen": 3000, "due_on": "2026-10-04"}],
        )
    elif start == "retained":
        extra.update(status="retained", retained_on="2026-09-10")
    return line_record(province=province, owner=owner(), plan=PLAN,
                       balance={"cash_fen": cash, "gift_fen": 500}, **extra)  # fmt: skip


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI)


def to_day(runtime: Runtime, day: dt.date) -> None:
    """The test clock at 10:00 on `day`, and what the scheduler runs up to then."""
    with transaction(runtime.sessions) as session:
        set_clock(session, noon(day))
    tick(runtime, show_progress=False, emit=lambda _: None)


def act(runtime: Runtime, day: dt.date, op: tuple[Any, ...], numbers: list[str]) -> None:
    """One subscriber's action at 10:00 on `day`, in a transaction of its own."""
    kind, msisdn = op[0], numbers[op[1]]
    with transaction(runtime.sessions) as session:
        ctx = Context(runtime, session, FrozenClock(noon(day)), actor="property")
        if kind == "pay":
            pay(ctx, msisdn, op[2])
        elif kind == "retain":
            retention.apply(ctx, msisdn)
        elif kind == "reactivate":
            retention.reactivate(ctx, msisdn)
        elif kind == "usage":
            line = session.scalars(select(Line).where(Line.msisdn == msisdn)).one()
            if line.status == "cancelled":  # no usage on a closed account's number
                raise DomainError("ALREADY_CANCELLED")
            add_usage(ctx, msisdn, op[2], source="network")


Snapshot = dict[int, dict[str, Any]]


def snapshot(runtime: Runtime, day: dt.date) -> Snapshot:
    """Each line's status, arrears clock and bills, and the lifecycle's warnings."""
    with transaction(runtime.sessions, readonly=True) as session:
        out: Snapshot = {}
        for line in session.scalars(select(Line).execution_options(populate_existing=True)):
            out[line.id] = {
                "msisdn": line.msisdn,
                "status": line.status,
                "province": line.province_code,
                "since": line.arrears_since,
                "bills": {
                    (b.period, b.kind): (b.id, b.status, b.due_on)
                    for b in session.scalars(select(Bill).where(Bill.line_id == line.id))
                },
                "bill_count": session.scalar(
                    select(func.count()).select_from(Bill).where(Bill.line_id == line.id)
                ),
                "cancelled_at": session.scalar(
                    select(func.max(Cancellation.cancelled_at)).where(
                        Cancellation.line_id == line.id
                    )
                ),
                "warnings": [
                    (w.arrears_since, w.days_before)
                    for w in session.scalars(
                        select(CancellationWarning).where(CancellationWarning.line_id == line.id)
                    )
                ],
                "warning_sms": sum(
                    1
                    for m in session.scalars(select(OutboxMessage))
                    if m.payload.get("kind") == "auto_cancel.warning"
                    and m.payload.get("to") == line.msisdn
                ),
            }
        return out


def overdue(bills: dict[Any, Any], day: dt.date) -> list[dt.date]:
    """Due days of the bills still owed after their due day (grace 0 in every province)."""
    return sorted(due for _, status, due in bills.values() if status == "unpaid" and due < day)


def check_books(runtime: Runtime) -> None:
    with transaction(runtime.sessions, readonly=True) as session:
        tb = trial_balance(session)
        assert tb["balanced"], tb
        for line in session.scalars(select(Line).execution_options(populate_existing=True)):
            p = line.province_code
            assert line.cash_fen == line_balance(session, f"subscriber_cash:{p}", line.id)
            assert line.gift_fen == line_balance(session, f"subscriber_gift:{p}", line.id)
            assert line.cash_fen >= 0 and line.gift_fen >= 0


def check_step(
    kind: str, day: dt.date, before: Snapshot, after: Snapshot, months: dict[int, int]
) -> None:
    for line_id, now in after.items():
        was = before[line_id]
        moved = (was["status"], now["status"])
        allowed = MOVES[kind].get(was["status"], set())
        assert now["status"] == was["status"] or now["status"] in allowed, (kind, moved)
        since, status = now["since"], now["status"]
        late = overdue(now["bills"], day)
        if status == "active":
            assert since is None, ("active with an arrears clock", kind)
            assert not late, ("active with an overdue bill", kind, late)
        elif status == "arrears_suspended":
            assert since is not None and since <= day
        elif status == "retained":
            assert (since is not None) == bool(late), ("retained", kind, since, late)
        if since is not None and since != was["since"] and status != "cancelled":
            # a clock started by this step: the day after the oldest overdue bill's due day
            assert late and since == late[0] + dt.timedelta(days=1), (kind, since, late)
        if status == "cancelled" and was["status"] != "cancelled":
            # automatic, on or after the cancel day of its clock (the clock kept): exactly on
            # it for a line suspended for arrears (the scheduler runs every day)
            assert kind == "advance" and since is not None
            cancelled_on = now["cancelled_at"].astimezone(SHANGHAI).date()
            cancel_on = rules.cancel_day(since, months[line_id])
            assert cancelled_on >= cancel_on, (cancelled_on, cancel_on)
            if was["status"] in ("active", "arrears_suspended"):
                assert cancelled_on == cancel_on, (cancelled_on, cancel_on)
        # bills: one per (line, period, kind); none new once cancelled
        assert now["bill_count"] == len(now["bills"])
        if was["status"] == "cancelled":
            assert set(now["bills"]) == set(was["bills"]), "billed after its cancellation"
        if now["cancelled_at"] is not None and status == "cancelled":
            cancelled_on = now["cancelled_at"].astimezone(SHANGHAI).date()
            for period, _kind in now["bills"]:
                assert period < f"{cancelled_on:%Y-%m}", ("a bill after the cancellation", period)
        # warnings: an offset at most once per arrears clock; an SMS only with a new offset
        assert len(now["warnings"]) == len(set(now["warnings"]))
        assert set(was["warnings"]) <= set(now["warnings"])
        assert now["warning_sms"] <= len(now["warnings"])
        new_sms = now["warning_sms"] - was["warning_sms"]
        assert new_sms <= len(set(now["warnings"]) - set(was["warnings"]))


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # a retained line owes its fee: the clock starts, warnings, cancelled
    ops=[("advance", 45), ("advance", 30)],
    lines=[("retained", 0), ("suspended", 0), ("owing", 0)],
)
@example(  # suspended, pays, active again; reactivated from retention; the others cancelled
    ops=[("advance", 3), ("pay", 1, 9000), ("reactivate", 2), ("advance", 30), ("advance", 30)],
    lines=[("suspended", 0), ("owing", 0), ("retained", 8000)],
)
@given(ops=ops, lines=starts)
def test_the_lifecycle_keeps_its_promises_over_any_sequence(
    engine: Engine, ops: list[tuple[Any, ...]], lines: list[tuple[str, int]]
) -> None:
    with isolated_runtime(engine) as runtime:
        day = START
        to_day(runtime, day)  # the scheduler's first start: nothing to bill yet
        records = [record(p, *start) for p, start in zip(PROVINCES, lines, strict=True)]
        with transaction(runtime.sessions) as session:
            import_records(
                Context(runtime, session, FrozenClock(noon(day)), actor="property"), records
            )
        numbers = [r["msisdn"] for r in records]
        before = snapshot(runtime, day)
        months = {
            line_id: runtime.policy.for_province(
                s["province"], day
            ).auto_cancel_after_arrears_months
            for line_id, s in before.items()
        }
        for op in ops:
            try:
                if op[0] == "advance":
                    day += dt.timedelta(days=op[1])
                    to_day(runtime, day)
                else:
                    act(runtime, day, op, numbers)
                event(f"{op[0]}: done")
            except DomainError as err:
                event(f"{op[0]}: {err.code}")
                assert err.code in EXPECTED, err
            check_books(runtime)
            after = snapshot(runtime, day)
            check_step(op[0], day, before, after, months)
            for s in after.values():
                event(f"status {s['status']}")
            before = after
        # and then the months after it, with nobody doing anything: what the sequence left
        # (arrears, a retention running out) goes on to its warnings and cancellations
        day += dt.timedelta(days=AFTERWARDS)
        to_day(runtime, day)
        check_books(runtime)
        after = snapshot(runtime, day)
        check_step("advance", day, before, after, months)
        for s in after.values():
            event(f"finally {s['status']}")
        with transaction(runtime.sessions, readonly=True) as session:
            assert verify(session)["intact"]


def test_paying_the_overdue_fee_stops_a_retained_lines_clock(runtime: Runtime) -> None:
    """A retained line (Beijing, 3 months) whose January fee went overdue on 16 February pays
    it on 2 March, while February's fee (due 15 March) is unpaid: nothing overdue is owed, so
    the clock stops; February's fee overdue on 16 March starts it again, from that day."""
    day = START
    to_day(runtime, day)
    rec = record("11", "active", 3500)
    with transaction(runtime.sessions) as session:
        import_records(Context(runtime, session, FrozenClock(noon(day)), actor="property"), [rec])
    act(runtime, day, ("retain", 0), [rec["msisdn"]])
    to_day(runtime, dt.date(2027, 3, 2))
    act(runtime, dt.date(2027, 3, 2), ("pay", 0, 500), [rec["msisdn"]])
    (line,) = snapshot(runtime, dt.date(2027, 3, 2)).values()
    assert line["status"] == "retained"
    assert overdue(line["bills"], dt.date(2027, 3, 2)) == []
    assert line["since"] is None  # fails: still 2027-02-16
    to_day(runtime, dt.date(2027, 5, 16))
    (line,) = snapshot(runtime, dt.date(2027, 5, 16)).values()
    assert line["since"] == dt.date(2027, 3, 16)
    assert line["status"] == "retained"  # cancelled on 16 June, not 16 May
