"""Check, cancel, reverse against a real database (SQLite here, PostgreSQL in CI)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cancellation.support import assert_books_consistent, request_for
from tests.factories import line_record, load, owner
from xiaohu.audit.models import AuditEvent
from xiaohu.billing.models import Bill, Refund, UsageRecord
from xiaohu.billing.service import pay
from xiaohu.cancellation import quotes, service
from xiaohu.cancellation.models import Refusal
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.numbers.models import NumberRecord
from xiaohu.runtime import Context

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def clean(**kw: Any) -> dict[str, Any]:
    """Cash 200 yuan, a 30-yuan plan: prorated 24 yuan on 11-24, refund 176 yuan."""
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    return line_record(province="33", **values)


def test_check_of_a_clean_line_is_eligible_and_signs_a_quote(ctx: Context) -> None:
    rec = clean()
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    assert result.eligible and result.blockers == []
    q = result.quote
    assert q is not None
    assert [c.model_dump() for c in q.final_charges] == [
        {"item": "plan_fee_prorated", "amount_fen": 2400}
    ]
    assert (q.cash_balance_fen, q.refund_fen, q.reserve_fen, q.refund_now_fen) == (
        20000,
        17600,
        2133,
        15467,
    )
    assert result.warnings[0].code == "UNBIND_INTERNET_ACCOUNTS"
    token = quotes.verify(ctx.settings.key, q.quote_id)
    assert token is not None and (token.line_id, token.version) == (line.id, line.version)
    assert token.created_at == ctx.now() and q.valid_until == ctx.now() + dt.timedelta(minutes=15)
    assert not ctx.session.new and not ctx.session.dirty  # the check wrote nothing


def test_clean_cancellation_refunds_at_once_and_keeps_the_reserve(ctx: Context) -> None:
    rec = clean()
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert out.status == "cancelled" and out.account_status == "settling"
    assert out.refund.refund_now_fen == 15467 and out.refund.reserve_fen == 2133
    assert out.refund.route["kind"] == "original" and out.refund.route["method"] == "alipay"
    assert out.undo_until == ctx.now() + dt.timedelta(hours=24)
    assert out.receipt_url == f"/api/v1/cancellations/{out.id}/receipt.pdf"
    assert out.reference.startswith("XH-33-20261124-")
    ctx.session.refresh(line)
    assert (line.status, line.status_reason, line.cash_fen, line.gift_fen) == (
        "cancelled",
        "subscriber_request",
        2133,
        0,
    )
    [refund] = ctx.session.scalars(select(Refund).where(Refund.line_id == line.id)).all()
    assert (refund.kind, refund.amount_fen) == ("now", 15467)
    number = ctx.session.get(NumberRecord, rec["msisdn"])
    assert number is not None and number.status == "quarantine"
    assert number.quarantined_until == ctx.now() + dt.timedelta(days=90)
    topics = [
        (m.topic, m.payload.get("action") or m.payload.get("kind"))
        for m in ctx.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    ]
    assert ("network.provisioning", "deprovision") in topics
    # The number is cancelled and the owner has no other line: the notice is not sent, and
    # that is recorded (tests/notifications/test_addressing.py has the owner with two lines).
    assert ("sms", "cancellation.completed") not in topics
    withheld = ctx.session.scalars(
        select(AuditEvent.data).where(AuditEvent.action == "sms.not_sent")
    ).one()
    assert withheld["kind"] == "cancellation.completed"
    assert_books_consistent(ctx.session)


def test_gift_pays_the_plan_fee_and_the_rest_is_forfeited(ctx: Context) -> None:
    rec = clean(balance={"cash_fen": 20000, "gift_fen": 5000}, usage_unbilled_fen=1000)
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    q = result.quote
    assert q is not None
    assert (q.charges_fen, q.gift_applied_fen, q.forfeited_fen, q.refund_fen) == (
        3400,
        3400,
        1600,
        20000,
    )
    assert "GIFT_FORFEITED" in [w.code for w in result.warnings]
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert out.forfeited_fen == 1600
    assert (
        ctx.session.scalar(
            select(func.count()).where(
                UsageRecord.line_id == line.id, UsageRecord.billed.is_(False)
            )
        )
        == 0
    )
    bill = ctx.session.scalars(
        select(Bill).where(Bill.line_id == line.id, Bill.kind == "final")
    ).one()
    assert (bill.amount_fen, bill.status) == (3400, "paid")
    assert_books_consistent(ctx.session)


def test_blocked_cancellation_lists_every_blocker(ctx: Context) -> None:
    rec = clean(
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        pending_orders=[{"id": "O-1", "kind": "plan_change"}],
    )
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    assert not result.eligible
    assert [b.code for b in result.blockers] == ["ARREARS", "PENDING_ORDER"]
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert err.value.code == "CANCELLATION_BLOCKED"
    assert err.value.keep_writes  # the refusal below is evidence: committed with the 409
    assert [b["code"] for b in err.value.extra["blockers"]] == ["ARREARS", "PENDING_ORDER"]
    [refusal] = ctx.session.scalars(select(Refusal)).all()
    assert refusal.codes == ["ARREARS", "PENDING_ORDER"]


def test_real_name_must_match(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    wrong = request_for(rec, result, real_name={"name": "李四", "id_number": "11010119900307803X"})
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], wrong)
    assert err.value.code == "REAL_NAME_MISMATCH"


def test_quote_expires_after_its_minutes(ctx: Context, clock: FrozenClock) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    clock.advance(dt.timedelta(minutes=15))
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert err.value.code == "QUOTE_EXPIRED"


def test_quote_is_stale_once_the_line_changed(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    pay(ctx, rec["msisdn"], 1000)
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert err.value.code == "QUOTE_EXPIRED"
    fresh = service.check(ctx, rec["msisdn"])
    assert fresh.quote is not None and fresh.quote.cash_balance_fen == 21000
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, fresh))
    assert out.refund.refund_now_fen + out.refund.reserve_fen == 21000 - 2400


def test_quote_of_another_line_is_not_found(ctx: Context) -> None:
    a, b = clean(), clean()
    load(ctx, a, b)
    quote_b = service.check(ctx, b["msisdn"])
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, a["msisdn"], request_for(a, quote_b, msisdn=a["msisdn"]))
    assert err.value.code == "QUOTE_NOT_FOUND"


def test_every_warning_must_be_acknowledged(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    req = request_for(rec, result, acknowledged_warnings=["QUARANTINE"])
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], req)
    assert err.value.code == "WARNINGS_NOT_ACKNOWLEDGED"
    assert err.value.extra["missing"][0] == "UNBIND_INTERNET_ACCOUNTS"
    assert "UNDO_WINDOW" in err.value.extra["missing"]


def test_transfer_refund_goes_to_another_line_of_the_same_owner(ctx: Context) -> None:
    person = owner()
    rec, other = clean(owner=person), clean(owner=person)
    [_line, other_line] = load(ctx, rec, other)
    result = service.check(ctx, rec["msisdn"])
    route = {"kind": "transfer", "to_msisdn": other["msisdn"]}
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result, refund_route=route))
    assert out.refund.route == {"kind": "transfer", "to_msisdn": other["msisdn"]}
    ctx.session.refresh(other_line)
    assert other_line.cash_fen == 20000 + 15467
    assert_books_consistent(ctx.session)


def test_transfer_to_a_stranger_is_refused(ctx: Context) -> None:
    rec, stranger = clean(), clean()
    load(ctx, rec, stranger)
    result = service.check(ctx, rec["msisdn"])
    route = {"kind": "transfer", "to_msisdn": stranger["msisdn"]}
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result, refund_route=route))
    assert err.value.code == "REFUND_ROUTE_INVALID"


def test_bank_card_route_keeps_only_the_last_digits(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    route = {"kind": "bank_card", "account": "6222 0212 3456 7894"}  # Luhn-valid
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result, refund_route=route))
    assert out.refund.route == {"kind": "bank_card", "account": "****7894"}


def test_cancelled_line_answers_already_cancelled(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    again = service.check(ctx, rec["msisdn"])
    assert [b.code for b in again.blockers] == ["ALREADY_CANCELLED"] and again.quote is None
    remedy = again.blockers[0].remedy
    assert remedy is not None and remedy.href == f"/api/v1/cancellations/{out.id}/reversal"
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert err.value.code == "ALREADY_CANCELLED"


def test_reversal_restores_the_line_but_not_the_transfer_already_made(
    ctx: Context, clock: FrozenClock
) -> None:
    person = owner()
    rec = clean(owner=person, balance={"cash_fen": 20000, "gift_fen": 5000}, usage_unbilled_fen=700)
    other = clean(owner=person)
    [line, other_line] = load(ctx, rec, other)
    version_before = line.version
    result = service.check(ctx, rec["msisdn"])
    route = {"kind": "transfer", "to_msisdn": other["msisdn"]}
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result, refund_route=route))
    assert (out.charges_fen, out.refund.refund_now_fen, out.refund.reserve_fen) == (
        3100,
        17867,
        2133,
    )
    clock.advance(dt.timedelta(hours=23))
    back = service.reverse(ctx, out.id)
    assert back.status == "reversed" and back.account_status == "reversed"
    ctx.session.refresh(line)
    ctx.session.refresh(other_line)
    # The gift paid the charges: reversing them gives the whole gift back; the reserve stays as
    # cash; the 178.67 yuan moved to the other line stay there.
    assert (line.status, line.cash_fen, line.gift_fen) == ("active", 2133, 5000)
    assert other_line.cash_fen == 20000 + 17867
    assert line.version > version_before
    assert (
        ctx.session.scalar(
            select(func.count()).where(
                UsageRecord.line_id == line.id, UsageRecord.billed.is_(False)
            )
        )
        == 1
    )
    number = ctx.session.get(NumberRecord, rec["msisdn"])
    assert number is not None and number.status == "assigned"
    statuses = ctx.session.scalars(select(Refund.status).where(Refund.line_id == line.id)).all()
    assert statuses == ["paid"]
    assert service.reverse(ctx, out.id).reversed_at == back.reversed_at  # idempotent
    assert_books_consistent(ctx.session)
    # ... and the line can be cancelled again, in the same period (a day later: +1 day's fee).
    again = service.check(ctx, rec["msisdn"])
    second = service.cancel(ctx, rec["msisdn"], request_for(rec, again))
    assert second.id != out.id and second.charges_fen == out.charges_fen + 100
    assert second.refund.refund_now_fen + second.refund.reserve_fen == 2133
    assert_books_consistent(ctx.session)


def test_reversal_keeps_the_refund_paid_out_and_gives_back_the_charges(
    ctx: Context, clock: FrozenClock
) -> None:
    """Cash paid the final bill: the reversal credits it back with the reserve; the refund the
    gateway paid out is the subscriber's, and the ledger shows it left."""
    rec = clean(usage_unbilled_fen=600)
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert (out.charges_fen, out.refund.refund_now_fen, out.refund.reserve_fen) == (
        3000,
        14867,
        2133,
    )
    clock.advance(dt.timedelta(minutes=5))
    service.reverse(ctx, out.id)
    ctx.session.refresh(line)
    assert (line.status, line.cash_fen, line.gift_fen) == ("active", 2133 + 3000, 0)
    final = ctx.session.scalars(
        select(Bill).where(Bill.line_id == line.id, Bill.kind == "final")
    ).one()
    assert final.status == "void"
    [refund] = ctx.session.scalars(select(Refund).where(Refund.line_id == line.id)).all()
    # Still owed (the payout goes out after commit); a reversal does not stop it.
    assert (refund.status, refund.amount_fen) == ("pending", 14867)
    sms = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "sms").order_by(OutboxMessage.id.desc())
    ).first()
    assert sms is not None and sms.payload["kind"] == "cancellation.reversed"
    assert "不会收回" in str(sms.payload["text"])
    assert_books_consistent(ctx.session)


def test_reversal_after_the_window_is_refused(ctx: Context, clock: FrozenClock) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    clock.advance(dt.timedelta(hours=24))
    with pytest.raises(DomainError) as err:
        service.reverse(ctx, out.id)
    assert err.value.code == "UNDO_WINDOW_CLOSED"


def test_beijing_undo_window_is_48_hours(ctx: Context, clock: FrozenClock) -> None:
    rec = line_record(province="11", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    assert {w.code: w for w in result.warnings}["UNDO_WINDOW"].model_extra == {"hours": 48}
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert out.undo_until == ctx.now() + dt.timedelta(hours=48)
    clock.advance(dt.timedelta(hours=30))
    assert service.reverse(ctx, out.id).status == "reversed"


def test_guangdong_bills_the_full_month(ctx: Context) -> None:
    rec = line_record(province="44", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    assert result.quote is not None
    assert [c.model_dump() for c in result.quote.final_charges] == [
        {"item": "plan_fee_full_month", "amount_fen": 3000}
    ]


def test_beijing_arrears_on_the_owners_other_line_block(ctx: Context) -> None:
    person = owner()
    unpaid = [{"period": "2026-10", "amount_fen": 900, "due_on": "2026-11-15"}]
    base = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}, "owner": person}
    bj = line_record(province="11", **base)
    bj_debtor = line_record(province="11", unpaid_bills=unpaid, **base)
    zj = line_record(province="33", **{**base, "owner": owner()})
    zj_debtor = line_record(province="33", unpaid_bills=unpaid, **{**base, "owner": zj["owner"]})
    load(ctx, bj, bj_debtor, zj, zj_debtor)
    blocked = service.check(ctx, bj["msisdn"])
    assert [(b.code, b.amount_fen) for b in blocked.blockers] == [("ARREARS", 900)]
    assert service.check(ctx, zj["msisdn"]).eligible


def test_usage_arriving_after_the_quote_stays_for_the_true_up(ctx: Context) -> None:
    rec = clean(usage_unbilled_fen=500)
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    from xiaohu.billing.service import add_usage

    add_usage(ctx, rec["msisdn"], 300)
    service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    unbilled = ctx.session.scalars(
        select(UsageRecord.amount_fen).where(
            UsageRecord.line_id == line.id, UsageRecord.billed.is_(False)
        )
    ).all()
    assert unbilled == [300]


def test_passport_holder_is_sent_to_a_store(ctx: Context) -> None:
    rec = clean(owner=owner(id_type="passport"))
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    [b] = result.blockers
    assert b.code == "CHANNEL_NOT_ALLOWED" and b.remedy is not None
    assert b.remedy.action == "visit_store"


def test_line_not_found(ctx: Context) -> None:
    with pytest.raises(DomainError) as err:
        service.check(ctx, "13900000000")
    assert err.value.code == "LINE_NOT_FOUND"
    assert ctx.session.scalar(select(func.count()).select_from(Line)) == 0


def test_a_forged_or_altered_quote_is_not_found(ctx: Context) -> None:
    rec = clean()
    [line] = load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    assert result.quote is not None
    token = quotes.verify(ctx.settings.key, result.quote.quote_id)
    assert token is not None
    body, mac = result.quote.quote_id.rsplit(".", 1)
    parts = body.split(".")
    parts[4] = str(token.valid_until_epoch + 3600)  # a longer validity, the old signature
    later = ".".join(parts)
    assert later != body
    for forged in (f"{later}.{mac}", "not-a-quote", quotes.sign(b"another key" * 4, token)):
        with pytest.raises(DomainError) as err:
            service.cancel(ctx, rec["msisdn"], request_for(rec, result, quote_id=forged))
        assert err.value.code == "QUOTE_NOT_FOUND"
    ctx.session.refresh(line)
    assert line.status == "active"


def test_the_check_document_has_the_shape_of_its_model(ctx: Context) -> None:
    """The API sends `check_json` as it is: it must be what CheckOut would have written."""
    person = owner()
    blocked = clean(
        owner=person,
        balance={"cash_fen": 20000, "gift_fen": 700},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        pending_orders=[{"id": "O-1", "kind": "plan_change"}],
        bundle={"id": "BB-9", "broadband_account": "057100000000", "role": "anchor"},
        contracts=[
            {
                "id": "C-1",
                "kind": "handset",
                "starts_on": "2025-06-01",
                "ends_on": "2027-05-31",
                "handset_list_price_fen": 150000,
                "handset_promo_price_fen": 100000,
            }
        ],
    )
    fine, gone = clean(owner=person), clean(owner=owner(id_type="passport"))
    load(ctx, blocked, fine, gone)
    service.cancel(ctx, fine["msisdn"], request_for(fine, service.check(ctx, fine["msisdn"])))
    for rec in (blocked, fine, gone):
        doc = service.check_json(ctx, rec["msisdn"])
        wire = json.loads(json.dumps(doc))
        assert wire == service.CheckOut.model_validate(doc).model_dump(mode="json"), rec["msisdn"]
    codes = [b["code"] for b in service.check_json(ctx, blocked["msisdn"])["blockers"]]
    assert codes == ["ARREARS", "CONTRACT_ACTIVE", "BROADBAND_BOUND", "PENDING_ORDER"]


def test_a_quote_is_honoured_at_its_own_date_across_midnight(
    ctx: Context, clock: FrozenClock
) -> None:
    """Quoted at 23:55 on the last day of the month, accepted at 00:05: the plan fee is the
    one quoted (30 of 30 days), not a new month's first day."""
    rec = clean()
    load(ctx, rec)
    clock.advance(
        dt.datetime(2026, 11, 30, 23, 55, tzinfo=dt.timezone(dt.timedelta(hours=8))) - ctx.now()
    )
    result = service.check(ctx, rec["msisdn"])
    assert result.quote is not None
    assert [c.amount_fen for c in result.quote.final_charges] == [3000]
    clock.advance(dt.timedelta(minutes=10))
    out = service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert out.charges_fen == 3000
    assert out.refund.refund_now_fen == result.quote.refund_now_fen
    assert_books_consistent(ctx.session)


def test_a_quote_made_under_another_policy_is_not_honoured(ctx: Context) -> None:
    rec = clean()
    load(ctx, rec)
    result = service.check(ctx, rec["msisdn"])
    ctx.runtime.policy = ctx.runtime.policy.model_copy(update={"name": "changed overnight"})
    with pytest.raises(DomainError) as err:
        service.cancel(ctx, rec["msisdn"], request_for(rec, result))
    assert err.value.code == "QUOTE_EXPIRED" and "policy" in err.value.detail
    fresh = service.check(ctx, rec["msisdn"])
    assert service.cancel(ctx, rec["msisdn"], request_for(rec, fresh)).status == "cancelled"
