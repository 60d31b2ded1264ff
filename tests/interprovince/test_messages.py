"""Messages between provinces, in process: sent through the outbox, applied by the receiving
province once, whatever the number of deliveries; the seam a broker would use."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.factories import add_store
from tests.interprovince.support import GZ_STORE, assert_provinces_balance
from xiaohu.assembly import deliver_outbox, interprovince_appliers
from xiaohu.interprovince import dues
from xiaohu.interprovince.models import AppliedMessage
from xiaohu.interprovince.rules import TOPIC, MalformedMessage, Message
from xiaohu.interprovince.service import Appliers, LocalLink, UnknownKind, receive, send
from xiaohu.ledger.models import JournalTransaction
from xiaohu.ledger.rules import account_type, credit, debit, due_from, due_to
from xiaohu.ledger.service import post
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Context

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def test_due_accounts_belong_to_the_first_province_named() -> None:
    assert due_to("32", "44") == "due_to:32:44" and due_from("44", "32") == "due_from:44:32"
    assert account_type("due_to:32:44")[0::2] == ("liability", "32")
    assert account_type("due_from:44:32")[0::2] == ("asset", "44")
    for bad in ("due_to:32:32", "due_to:32", "due_from:4:32", "due_to:32:xx"):
        with pytest.raises(KeyError):
            account_type(bad)


def test_a_message_survives_its_wire_form_and_a_bad_one_is_refused() -> None:
    m = Message("abc", "k", "44", "32", T0, {"amount_fen": 1})
    assert Message.from_wire(m.as_wire()) == m
    for wire in ({**m.as_wire(), "to_province": "99"}, {"id": "x"}, [1], None):
        with pytest.raises(MalformedMessage):
            Message.from_wire(wire)


def test_an_applier_is_registered_once_per_kind() -> None:
    appliers = Appliers(dues.APPLIERS)
    with pytest.raises(ValueError, match="already registered"):
        appliers.register(dues.CASH_REFUND, dues.apply_cash_refund)
    with pytest.raises(UnknownKind):
        appliers["nobody.handles.this"]
    assert set(dues.APPLIERS[i][0] for i in (0, 1)) <= set(interprovince_appliers().kinds())


def _refund_for_jiangsu(ctx: Context, amount: int) -> Message:
    """Jiangsu's side of a cash refund paid at Guangzhou, posted; Guangdong's, sent."""
    leg = dues.refund_leg(ctx, home="32", store_code=GZ_STORE, store_province="44",
                          amount_fen=amount, ref="C-1", msisdn_masked="130****0001")  # fmt: skip
    post(ctx.session, "cancellation.refund", [debit("revenue:32", amount), leg], at=ctx.now(),
         ref="C-1", province_code="32")  # fmt: skip
    wire = ctx.session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == TOPIC))
    return Message.from_wire(wire.one())


def _journal(ctx: Context) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(JournalTransaction)) or 0)


def test_a_message_applied_twice_changes_nothing(ctx: Context) -> None:
    add_store(ctx, code=GZ_STORE, province_code="44", city="广州")
    message = _refund_for_jiangsu(ctx, 1234)
    assert (message.kind, message.from_province, message.to_province) == (
        dues.CASH_REFUND,
        "32",
        "44",
    )
    before = _journal(ctx)
    assert deliver_outbox(ctx.runtime, ctx.session, ctx.now(), 100) == 1
    assert _journal(ctx) == before + 1
    # Delivered again (a broker's redelivery; the outbox row reset), and received again.
    row = ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == TOPIC)).one()
    row.status, row.delivered_at = "pending", None
    ctx.session.flush()
    assert deliver_outbox(ctx.runtime, ctx.session, ctx.now(), 100) == 1
    assert receive(ctx.session, interprovince_appliers(), message, ctx.now()) is False
    assert _journal(ctx) == before + 1
    assert ctx.session.scalar(select(func.count()).select_from(AppliedMessage)) == 1
    assert assert_provinces_balance(ctx.session) >= {"32", "44"}


def test_a_message_nobody_applies_waits_and_leaves_no_trace(ctx: Context) -> None:
    send(ctx, "44", "nobody.handles.this", {"x": 1}, from_province="32")
    assert deliver_outbox(ctx.runtime, ctx.session, ctx.now(), 100) == 0
    row = ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == TOPIC)).one()
    assert row.status == "pending" and "nobody.handles.this" in (row.last_error or "")
    assert ctx.session.scalar(select(func.count()).select_from(AppliedMessage)) == 0


def test_a_malformed_cash_message_is_not_applied(ctx: Context) -> None:
    """A drawer of another province, or a due to oneself: refused, nothing posted."""
    link = LocalLink(interprovince_appliers())
    before = _journal(ctx)
    for payload, to in (
        ({"store_code": "11-BJ-0001", "home_province": "32", "amount_fen": 5, "ref": "r"}, "44"),
        ({"store_code": GZ_STORE, "home_province": "44", "amount_fen": 5, "ref": "r"}, "44"),
        ({"store_code": GZ_STORE, "home_province": "32", "amount_fen": -5, "ref": "r"}, "44"),
    ):
        with pytest.raises(MalformedMessage):
            link.publish(ctx.session, Message("m", dues.CASH_REFUND, to, "32", T0, payload), T0)
    assert _journal(ctx) == before


def test_a_province_is_told_nothing_when_the_store_is_its_own(ctx: Context) -> None:
    leg = dues.collected_leg(ctx, home="44", store_code=GZ_STORE, store_province="44",
                             amount_fen=10, ref="P-1", msisdn_masked="")  # fmt: skip
    assert leg == debit(f"store_drawer:{GZ_STORE}", 10)
    assert ctx.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    leg = dues.refund_leg(ctx, home="32", store_code=GZ_STORE, store_province="44",
                          amount_fen=0, ref="C-0", msisdn_masked="")  # fmt: skip
    assert leg == credit("due_to:32:44", 0)  # a zero leg is dropped; nothing is sent
    assert ctx.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
