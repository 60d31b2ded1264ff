"""Retention and reactivation called directly: the line's state, the outbox, the audit chain,
the overview, and paying what is owed clearing the arrears clock (`billing.reactivate_if_clear`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from tests.cancellation.support import assert_books_consistent
from tests.counter.support import STORE, beijing, open_desk
from tests.factories import load
from xiaohu.audit.models import AuditEvent
from xiaohu.billing import service as billing
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.overview.service import line_view
from xiaohu.retention import service
from xiaohu.runtime import Context

BILL = {"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}


def line_of(ctx: Context, **kw: Any) -> Line:
    [line] = load(ctx, beijing(**kw))
    return line


def outbox(ctx: Context, msisdn: str) -> list[tuple[str, Any]]:
    rows = ctx.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [
        (m.topic, m.payload.get("action") or m.payload.get("kind"))
        for m in rows
        if msisdn in (m.payload.get("msisdn"), m.payload.get("to"))
    ]


def actions(ctx: Context, msisdn: str) -> list[str]:
    return list(
        ctx.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject == f"line:{msisdn}")
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )


def test_apply_retains_the_line_at_once_and_tells_the_network(ctx: Context) -> None:
    line = line_of(ctx)
    found = service.check(ctx, line.msisdn)
    assert found.eligible and found.fee_per_month_fen == 500
    assert found.starts_on == dt.date(2026, 12, 1) and found.months_covered == 12
    out = service.apply(ctx, line.msisdn)
    assert out.status == "retained" and out.starts_on == dt.date(2026, 12, 1)
    assert line.status == "retained"
    assert line.retained_on == dt.date(2026, 11, 24)
    assert line.retention_starts_on == dt.date(2026, 12, 1)
    assert ("network.provisioning", "suspend") in outbox(ctx, line.msisdn)
    assert ("sms", "retention") in outbox(ctx, line.msisdn)
    assert actions(ctx, line.msisdn)[-1] == "line.retained"
    view = line_view(ctx, line.msisdn)
    assert view.retention is not None
    assert view.retention.starts_on == dt.date(2026, 12, 1)
    assert (view.retention.fee_per_month_fen, view.retention.months_covered) == (500, 12)
    again = service.check(ctx, line.msisdn)
    assert [(b["code"], b["state"]) for b in again.blockers] == [("ABNORMAL_STATE", "retained")]
    assert_books_consistent(ctx.session)


def test_a_blocked_line_is_refused_with_every_blocker_and_left_as_it_was(ctx: Context) -> None:
    line = line_of(ctx, opened_on="2026-11-01", unpaid_bills=[BILL])
    with pytest.raises(DomainError) as err:
        service.apply(ctx, line.msisdn)
    assert err.value.code == "RETENTION_BLOCKED"
    codes = [b["code"] for b in err.value.extra["blockers"]]
    assert codes == ["ARREARS", "RETENTION_FIRST_MONTH"]
    assert line.status == "active" and line.retained_on is None


def test_reactivation_needs_nothing_owed_and_a_suspended_line(ctx: Context) -> None:
    active = line_of(ctx)
    with pytest.raises(DomainError) as err:
        service.reactivate(ctx, active.msisdn)
    assert err.value.code == "NOT_SUSPENDED"
    line = line_of(ctx, status="retained", balance={"cash_fen": 0, "gift_fen": 0},
                   unpaid_bills=[BILL])  # fmt: skip
    with pytest.raises(DomainError) as err:
        service.reactivate(ctx, line.msisdn)
    assert err.value.code == "ARREARS" and err.value.extra["amount_fen"] == 3800
    billing.pay(ctx, line.msisdn, 3800)
    assert line.status == "retained"  # paying does not end a retention
    out = service.reactivate(ctx, line.msisdn)
    assert out.status == "active"
    assert line.status == "active"
    assert (line.retained_on, line.retention_starts_on, line.arrears_since) == (None, None, None)
    assert outbox(ctx, line.msisdn)[-2:] == [
        ("network.provisioning", "restore"),
        ("sms", "reactivation"),
    ]
    assert actions(ctx, line.msisdn)[-2:] == ["line.reactivated", "reactivation.done"]
    assert line_view(ctx, line.msisdn).retention is None
    assert_books_consistent(ctx.session)


def test_paying_what_is_owed_stops_the_arrears_clock(ctx: Context) -> None:
    zero = {"cash_fen": 0, "gift_fen": 0}
    suspended = line_of(ctx, status="arrears_suspended", balance=zero, unpaid_bills=[BILL])
    retained = line_of(ctx, status="retained", balance=zero, unpaid_bills=[BILL])
    for line in (suspended, retained):
        line.arrears_since = dt.date(2026, 11, 16)
    ctx.session.flush()
    assert line_view(ctx, suspended.msisdn).arrears_since == dt.date(2026, 11, 16)
    billing.pay(ctx, suspended.msisdn, 1000)  # part of it: the clock runs on
    assert suspended.status == "arrears_suspended" and suspended.arrears_since is not None
    result = billing.pay(ctx, suspended.msisdn, 2800)
    assert result.reactivated and suspended.status == "active"
    assert suspended.arrears_since is None
    assert not billing.pay(ctx, retained.msisdn, 3800).reactivated
    assert retained.status == "retained" and retained.arrears_since is None
    assert_books_consistent(ctx.session)


def test_an_arrears_suspended_line_with_nothing_owed_is_reactivated_on_request(
    ctx: Context,
) -> None:
    line = line_of(ctx, status="arrears_suspended")
    assert service.reactivate(ctx, line.msisdn).status == "active"
    assert line.status == "active" and line.status_reason == "reactivation_requested"


def test_a_store_reactivation_takes_what_is_owed_first(ctx: Context) -> None:
    open_desk(ctx)
    line = line_of(ctx, status="arrears_suspended", balance={"cash_fen": 0, "gift_fen": 0},
                   unpaid_bills=[BILL])  # fmt: skip
    source = billing.PaymentSource(method="cash", store_code=STORE, staff_login="bj.wang")
    channel = service.Channel("store", STORE)
    out = service.reactivate(ctx, line.msisdn, channel, payment=source, idempotency_key="k1")
    assert (out.status, out.paid_fen) == ("active", 3800) and out.payment_id
    assert line.status == "active"
    assert_books_consistent(ctx.session)
