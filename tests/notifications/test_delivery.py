"""Outbox delivery: every topic reaches its gateway once; what cannot be delivered stays."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import T0, Api, request_for
from tests.factories import line_record, load
from xiaohu.billing.gateway import SANDBOX_LIMIT_FEN, SandboxPaymentGateway
from xiaohu.billing.models import Refund
from xiaohu.billing.payouts import refund_key
from xiaohu.cancellation import service
from xiaohu.delivery import deliver
from xiaohu.kit.clock import FrozenClock
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.service import enqueue
from xiaohu.runtime import Context

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def clean() -> dict[str, Any]:
    return line_record(province="33", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})


def run(ctx: Context, gateway: SandboxPaymentGateway) -> int:
    rt = ctx.runtime
    return deliver(
        ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now(), payments=gateway
    )


def cancelled(ctx: Context) -> tuple[dict[str, Any], Refund]:
    rec = clean()
    load(ctx, rec)
    service.cancel(ctx, rec["msisdn"], request_for(rec, service.check(ctx, rec["msisdn"])))
    refund = ctx.session.scalars(select(Refund)).one()
    return rec, refund


def refund_message(ctx: Context) -> OutboxMessage:
    return ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "payment.refund")
    ).one()


def test_a_cancellation_refund_is_paid_out_by_the_gateway_once(ctx: Context) -> None:
    gateway = SandboxPaymentGateway()
    rec, refund = cancelled(ctx)
    assert run(ctx, gateway) >= 2  # the deprovisioning and the payout
    msg = refund_message(ctx)
    assert msg.delivered_at is not None and msg.last_error is None
    assert gateway.refunds_paid() == [(refund_key(refund.id), 15467, rec["msisdn"])]
    msg.delivered_at, msg.status = None, "pending"  # again, as after a crash before commit
    assert run(ctx, gateway) == 1
    assert gateway.refunds_paid() == [(refund_key(refund.id), 15467, rec["msisdn"])]
    assert gateway.refunds_made == 1


def test_a_refund_is_paid_even_when_the_cancellation_is_reversed_first(ctx: Context) -> None:
    """A reversal does not take the refund back (the subscriber keeps it), so its payout goes
    out whichever commits first: never a refund on the books that nobody received."""
    gateway = SandboxPaymentGateway()
    rec, refund = cancelled(ctx)
    service.reverse(ctx, refund.cancellation_id)
    run(ctx, gateway)
    assert refund_message(ctx).delivered_at is not None
    assert gateway.refunds_paid() == [(refund_key(refund.id), 15467, rec["msisdn"])]


def test_a_declined_payout_stays_undelivered_with_the_reason(ctx: Context) -> None:
    gateway = SandboxPaymentGateway()
    enqueue(
        ctx.session,
        "payment.refund",
        {"refund_id": "r-big", "msisdn": "13800138000", "amount_fen": SANDBOX_LIMIT_FEN + 1},
        at=ctx.now(),
        province_code="33",
    )
    assert run(ctx, gateway) == 0
    msg = refund_message(ctx)
    assert msg.delivered_at is None and msg.attempts == 1
    assert msg.last_error is not None and "amount_over_limit" in msg.last_error


def test_an_unknown_topic_is_never_marked_delivered(ctx: Context, clock: FrozenClock) -> None:
    enqueue(ctx.session, "fax", {"to": "x"}, at=ctx.now(), province_code=None)
    assert run(ctx, SandboxPaymentGateway()) == 0
    clock.advance(dt.timedelta(minutes=1))  # past the first backoff
    assert run(ctx, SandboxPaymentGateway()) == 0
    msg = ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "fax")).one()
    assert msg.delivered_at is None and msg.attempts == 2
    assert msg.last_error is not None and "fax" in msg.last_error


def test_without_a_payment_gateway_the_payout_waits(ctx: Context) -> None:
    cancelled(ctx)
    rt = ctx.runtime
    deliver(ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now())
    msg = refund_message(ctx)
    assert msg.delivered_at is None and msg.last_error is not None


def test_over_http_the_payout_reaches_the_runtimes_gateway(client: TestClient) -> None:
    api = Api(client)
    api.set_clock(T0)
    rec = clean()
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    r = api.cancel(rec, api.check(rec["msisdn"]))
    assert r.status_code == 201, r.text
    gateway = client.app.state.runtime.payment_gateway  # type: ignore[attr-defined]
    [(key, amount, msisdn)] = gateway.refunds_paid()
    assert key.startswith("refund:") and (amount, msisdn) == (15467, rec["msisdn"])


def test_messages_that_keep_failing_never_hold_back_new_ones(ctx: Context) -> None:
    for i in range(3):
        enqueue(ctx.session, "carrier.pigeon", {"n": i}, at=ctx.now(), province_code="44")
    sms = enqueue(ctx.session, "sms", {"to": "13800138000", "text": "hi", "kind": "test"},
                  at=ctx.now(), province_code="11")  # fmt: skip
    ctx.session.flush()
    rt = ctx.runtime
    for _ in range(2):
        deliver(ctx.session, rt.sms_gateway, rt.provisioning_gateway, ctx.now(), limit=2)
    assert sms.delivered_at is not None
    stuck = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "carrier.pigeon")
    ).all()
    assert all(m.delivered_at is None and m.last_error for m in stuck)
