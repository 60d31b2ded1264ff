"""The daily lifecycle run on the test clock: arrears, warnings, automatic cancellation,
retention's end, numbers back to the pool; repeat runs, a killed run, two holders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.factories import line_record, load, owner
from tests.lifecycle.support import bill, books, days, line, orders, outbox, run_day, set_day
from xiaohu.billing.models import Bill
from xiaohu.billing.service import pay
from xiaohu.cancellation.models import Cancellation
from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError
from xiaohu.ledger.models import JournalEntry
from xiaohu.lifecycle import auto_cancel, rules
from xiaohu.lifecycle import run as lifecycle_run
from xiaohu.lifecycle.models import CancellationWarning
from xiaohu.lifecycle.run import run_lifecycle
from xiaohu.lines.models import Line
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context, Runtime
from xiaohu.scheduling.service import holding

D = dt.date
COUNTS = ("suspended", "warned", "cancelled", "released", "retention_ended", "arrears_started")


def _zero(report: dict[str, Any]) -> bool:
    return all(report[k] == 0 for k in COUNTS)


def _commit(ctx: Context) -> None:
    ctx.session.commit()


def test_a_line_in_arrears_is_suspended_warned_at_each_offset_once_and_cancelled(
    runtime: Runtime, ctx: Context
) -> None:
    person = owner()
    debtor, other, payer = load(
        ctx,
        line_record(owner=person, balance={"cash_fen": 0, "gift_fen": 300},
                    unpaid_bills=[bill("2026-11-25")]),
        line_record(owner=person),
        line_record(unpaid_bills=[bill("2026-11-25")], balance={"cash_fen": 0, "gift_fen": 0}),
    )  # fmt: skip
    pay(ctx, payer.msisdn, 12900)  # the line that keeps paying
    _commit(ctx)
    reports = {d: run_day(runtime, d) for d in days(D(2026, 11, 24), D(2027, 2, 27))}

    by = {k: [d for d, r in reports.items() if r[k]] for k in COUNTS}
    assert by["suspended"] == [D(2026, 11, 26)]  # the day after the due date
    assert reports[D(2026, 11, 26)]["suspended"] == 1
    # cancel day: 26 Nov + 3 months = 26 Feb; warned 30, 7 and 1 days before, once each
    assert by["warned"] == [D(2027, 1, 27), D(2027, 2, 19), D(2027, 2, 25)]
    assert by["cancelled"] == [D(2027, 2, 26)]
    assert line(runtime, payer.msisdn).status == "active"

    gone = line(runtime, debtor.msisdn)
    assert (gone.status, gone.cash_fen, gone.gift_fen) == ("cancelled", 0, 0)
    assert gone.arrears_since == D(2026, 11, 26)
    for to in (debtor.msisdn, other.msisdn):
        assert len(outbox(runtime, kind="auto_cancel.warning", to=to)) == 3
    (suspended,) = outbox(runtime, kind="arrears.suspended", to=debtor.msisdn)
    assert suspended["text"] == rules.suspended_text(debtor.msisdn)  # written by the database
    assert [p["to"] for p in outbox(runtime, kind="cancellation.completed")] == [other.msisdn]
    assert orders(runtime, debtor.msisdn) == ["suspend", "deprovision"]
    with transaction(runtime.sessions) as session:
        c = session.scalars(select(Cancellation).where(Cancellation.line_id == debtor.id)).one()
        assert (c.channel, c.status, c.account_status) == ("auto", "cancelled", "closed")
        assert (c.forfeited_fen, c.refund_now_fen, c.shortfall_fen) == (300, 0, 12900)
        kept = session.scalars(select(Bill).where(Bill.line_id == debtor.id)).one()
        assert kept.status == "unpaid"  # Beijing keeps the debt as a receivable
        number = session.get(NumberRecord, debtor.msisdn)
        assert number is not None and number.status == "quarantine"
        rows = session.scalar(
            select(func.count()).select_from(CancellationWarning)
            .where(CancellationWarning.line_id == debtor.id)
        )  # fmt: skip
        assert rows == 3
    assert _zero(run_day(runtime, D(2027, 2, 26)))  # the same day again: nothing

    assert run_day(runtime, D(2027, 5, 26))["released"] == 0
    assert run_day(runtime, D(2027, 5, 27))["released"] == 1  # 90 days of quarantine
    assert _zero(run_day(runtime, D(2027, 5, 27)))


def test_guangdong_cancels_after_two_months_writing_the_debt_off_and_sends_skipped_warnings_late(
    runtime: Runtime, ctx: Context
) -> None:
    person = owner()
    debtor, other = load(
        ctx,
        line_record(province="44", owner=person, balance={"cash_fen": 1000, "gift_fen": 0},
                    unpaid_bills=[bill("2026-11-25", 5000)]),
        line_record(province="44", owner=person),
    )  # fmt: skip
    _commit(ctx)
    assert run_day(runtime, D(2026, 11, 26))["suspended"] == 1
    # cancel day 26 Jan; the run of 27 Dec (30 days before) and of 19 Jan (7) never happened
    late = run_day(runtime, D(2027, 1, 20))
    assert late["warned"] == 1
    assert _zero(run_day(runtime, D(2027, 1, 21)))
    assert run_day(runtime, D(2027, 1, 25))["warned"] == 1
    assert len(outbox(runtime, kind="auto_cancel.warning", to=debtor.msisdn)) == 2
    report = run_day(runtime, D(2027, 1, 26))
    assert (report["cancelled"], report["written_off_fen"]) == (1, 4000)
    with transaction(runtime.sessions) as session:
        b = session.scalars(select(Bill).where(Bill.line_id == debtor.id)).one()
        assert (b.status, b.paid_fen) == ("written_off", 1000)
        bad = session.scalar(
            select(func.sum(JournalEntry.debit_fen)).where(
                JournalEntry.account_code == "bad_debt:44"
            )
        )
        assert bad == 4000
        warned = session.scalars(
            select(CancellationWarning.days_before).where(CancellationWarning.line_id == debtor.id)
        ).all()
        assert sorted(warned) == [1, 7, 30]
    assert line(runtime, debtor.msisdn).cash_fen == 0
    assert line(runtime, other.msisdn).status == "active"


def test_a_retained_line_with_an_unpaid_fee_keeps_retained_until_cancelled(
    runtime: Runtime, ctx: Context
) -> None:
    (kept,) = load(
        ctx,
        line_record(status="retained", balance={"cash_fen": 0, "gift_fen": 0},
                    unpaid_bills=[bill("2026-11-25", 500)]),
    )  # fmt: skip
    _commit(ctx)
    report = run_day(runtime, D(2026, 11, 26))
    assert (report["arrears_started"], report["suspended"]) == (1, 0)
    after = line(runtime, kept.msisdn)
    assert (after.status, after.arrears_since) == ("retained", D(2026, 11, 26))
    assert _zero(run_day(runtime, D(2026, 11, 27)))
    assert run_day(runtime, D(2027, 2, 25))["warned"] == 1
    assert run_day(runtime, D(2027, 2, 26))["cancelled"] == 1
    with transaction(runtime.sessions) as session:
        c = session.scalars(select(Cancellation).where(Cancellation.line_id == kept.id)).one()
        assert c.previous_status == "retained"
        # no other line: the notice is withheld, and the audit trail says so
    assert outbox(runtime, kind="cancellation.completed") == []


def test_retention_ends_at_the_policy_maximum(runtime: Runtime, ctx: Context) -> None:
    (kept,) = load(ctx, line_record(status="retained"))
    ctx.session.execute(
        update(Line).where(Line.id == kept.id)
        .values(retained_on=D(2025, 11, 20), retention_starts_on=D(2025, 12, 1))
    )  # fmt: skip
    _commit(ctx)
    assert run_day(runtime, D(2026, 11, 30))["retention_ended"] == 0
    assert run_day(runtime, D(2026, 12, 1))["retention_ended"] == 1  # 12 months (policy)
    assert line(runtime, kept.msisdn).status == "active"
    assert orders(runtime, kept.msisdn) == ["restore"]
    assert len(outbox(runtime, kind="retention.ended", to=kept.msisdn)) == 1
    assert _zero(run_day(runtime, D(2026, 12, 1)))


def _debtors(ctx: Context, n: int) -> list[Line]:
    return load(
        ctx,
        *(line_record(balance={"cash_fen": 0, "gift_fen": 0}, unpaid_bills=[bill("2026-11-25")])
          for _ in range(n)),
    )  # fmt: skip


def test_a_killed_run_resumes_after_its_last_chunk_and_does_everything_once(
    runtime: Runtime, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _debtors(ctx, 5)
    _commit(ctx)
    monkeypatch.setattr(lifecycle_run, "CHUNK", 2)
    real, calls = lifecycle_run.run_range, []

    def dies_after_two(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        real(*args)

    monkeypatch.setattr(lifecycle_run, "run_range", dies_after_two)
    set_day(runtime, D(2026, 11, 26))
    with pytest.raises(RuntimeError):
        run_lifecycle(runtime, D(2026, 11, 26), show_progress=False)
    suspended = [line(runtime, x.msisdn).status for x in lines].count("arrears_suspended")
    assert suspended == 4  # two chunks committed, the third rolled back
    monkeypatch.setattr(lifecycle_run, "run_range", real)
    report = run_lifecycle(runtime, D(2026, 11, 26), show_progress=False)
    assert report["resumed"] and report["suspended"] == 5  # the counts of the whole run
    for x in lines:
        assert line(runtime, x.msisdn).status == "arrears_suspended"
        assert len(outbox(runtime, kind="arrears.suspended", to=x.msisdn)) == 1
    books(runtime)
    assert _zero(run_lifecycle(runtime, D(2026, 11, 26), show_progress=False))


def test_a_second_holder_is_told_the_job_is_running(runtime: Runtime) -> None:
    set_day(runtime, D(2026, 11, 26))
    with holding(runtime, "lifecycle"), pytest.raises(DomainError) as refused:
        run_lifecycle(runtime, D(2026, 11, 26), show_progress=False)
    assert refused.value.code == "JOB_RUNNING"


def test_a_day_the_clock_has_not_reached_is_refused(runtime: Runtime) -> None:
    set_day(runtime, D(2026, 11, 26))
    for day in (D(2026, 11, 27), D(1, 1, 1)):
        with pytest.raises(DomainError) as refused:
            run_lifecycle(runtime, day, show_progress=False)
        assert refused.value.code == "VALIDATION_FAILED"


def test_the_sandbox_endpoint_runs_a_day(runtime: Runtime, client: Any, ctx: Context) -> None:
    _debtors(ctx, 1)
    _commit(ctx)
    set_day(runtime, D(2026, 11, 26))
    r = client.post("/api/v1/sandbox/runs/lifecycle", json={"date": "2026-11-26"})
    assert r.status_code == 200, r.text
    assert r.json()["suspended"] == 1 and r.json()["date"] == "2026-11-26"
    again = client.post("/api/v1/sandbox/runs/lifecycle", json={"date": "2026-11-26"}).json()
    assert again["suspended"] == 0


def test_a_retained_line_whose_fee_was_paid_is_neither_warned_nor_cancelled(
    runtime: Runtime, ctx: Context
) -> None:
    (kept,) = load(
        ctx,
        line_record(status="retained", balance={"cash_fen": 0, "gift_fen": 0},
                    unpaid_bills=[bill("2026-11-25", 500)]),
    )  # fmt: skip
    _commit(ctx)
    assert run_day(runtime, D(2026, 11, 26))["arrears_started"] == 1
    pay(ctx, kept.msisdn, 500)  # paid: the clock stops even if arrears_since were left set
    _commit(ctx)
    assert _zero(run_day(runtime, D(2027, 2, 25)))
    assert _zero(run_day(runtime, D(2027, 2, 26)))
    assert line(runtime, kept.msisdn).status == "retained"


def test_cancellation_references_drawn_twice_are_drawn_again(
    runtime: Runtime, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _debtors(ctx, 3)
    _commit(ctx)
    run_day(runtime, D(2026, 11, 26))
    draws = iter(["XH-11-20270226-AAAAAA"] * 4 + ["XH-11-20270226-BBBBBB", "XH-11-20270226-CCCCCC"])
    monkeypatch.setattr(auto_cancel, "reference", lambda *_: next(draws))
    assert run_day(runtime, D(2027, 2, 26))["cancelled"] == 3
    with transaction(runtime.sessions) as session:
        refs = session.scalars(
            select(Cancellation.reference).where(Cancellation.line_id.in_([x.id for x in lines]))
        ).all()
    assert sorted(refs) == [f"XH-11-20270226-{t * 6}" for t in "ABC"]
