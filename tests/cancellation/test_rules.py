"""The cancellation check as a pure function: every blocker at once, warnings, policy."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.cancellation.rules import (
    LineSnapshot,
    OwingLine,
    SnapshotContract,
    SnapshotOrder,
    check_cancellation,
    price,
    warnings,
)
from xiaohu.contracts.rules import ContractTerms
from xiaohu.policy.loader import load
from xiaohu.policy.schema import Values

TODAY = dt.date(2026, 11, 24)
V = Values()
CLOSES = dt.date(2026, 12, 1)


def snap(**kw: Any) -> LineSnapshot:
    values: dict[str, Any] = {
        "line_id": 1,
        "msisdn": "13800138000",
        "province_code": "33",
        "status": "active",
        "real_name_verified": True,
        "id_type": "resident_id",
        "arrears_fen": 0,
        "other_lines_arrears_fen": 0,
        "cash_fen": 20000,
        "gift_fen": 0,
        "plan_fee_fen": 3000,
        "unbilled_usage_fen": 0,
    }
    values.update(kw)
    return LineSnapshot(**values)


def handset(ref: str = "C-1", ends: dt.date | None = dt.date(2026, 12, 31)) -> SnapshotContract:
    terms = ContractTerms(
        kind="handset",
        starts_on=dt.date(2025, 1, 1),
        ends_on=ends,
        handset_list_price_fen=599900,
        handset_promo_price_fen=299900,
        gift_prestore_remaining_fen=60000,
    )
    return SnapshotContract(ref, "active", terms)


def premium(ends: dt.date | None) -> SnapshotContract:
    terms = ContractTerms(
        kind="premium_number",
        starts_on=dt.date(2024, 1, 1),
        ends_on=ends,
        monthly_minimum_fen=13800,
    )
    return SnapshotContract("C-2", "active", terms)


def codes(s: LineSnapshot, values: Values = V, channel: str = "online") -> list[str]:
    return [b.code for b in check_cancellation(s, values, TODAY, channel)]


def test_a_clean_line_has_no_blockers() -> None:
    assert codes(snap()) == []


def test_every_blocker_is_listed_at_once() -> None:
    s = snap(
        status="lost",
        real_name_verified=False,
        id_type="passport",
        arrears_fen=3800,
        contracts=(handset(), premium(None)),
        bundle_id="BB-1",
        bundle_role="anchor",
        family_group_id="F-1",
        family_role="primary",
        family_other_members=2,
        pending_orders=(SnapshotOrder("O-1", "plan_change"), SnapshotOrder("O-2", "sim_swap")),
        bank_collection_pending=True,
    )
    assert codes(s) == [
        "ARREARS",
        "ABNORMAL_STATE",
        "NOT_REAL_NAME",
        "CONTRACT_ACTIVE",
        "PREMIUM_MIN_SPEND",
        "BROADBAND_BOUND",
        "FAMILY_PRIMARY",
        "PENDING_ORDER",
        "PENDING_ORDER",
        "BANK_COLLECTION_PENDING",
        "CHANNEL_NOT_ALLOWED",
    ]


def test_each_blocker_has_both_languages_and_a_remedy() -> None:
    s = snap(
        arrears_fen=3800,
        contracts=(handset(),),
        bundle_role="anchor",
        family_role="primary",
        family_other_members=1,
        pending_orders=(SnapshotOrder("O-1", "plan_change"),),
    )
    for b in check_cancellation(s, V, TODAY, "online"):
        d = b.as_dict()
        assert d["message"] and d["message_en"] and d["message"] != d["message_en"]
        assert d["remedy"]["action"]


def test_arrears_blocker_carries_amount_and_pay_link() -> None:
    [b] = check_cancellation(snap(arrears_fen=3800), V, TODAY, "online")
    assert b.amount_fen == 3800
    assert b.remedy == {
        "action": "pay",
        "method": "POST",
        "href": "/api/v1/lines/13800138000/payments",
        "amount_fen": 3800,
    }


def test_charges_beyond_cash_are_arrears_with_the_shortfall() -> None:
    # prorated 12900 × 24/30 = 10320, cash 5000 + gift 2000 -> 3320 short
    s = snap(plan_fee_fen=12900, cash_fen=5000, gift_fen=2000)
    [b] = check_cancellation(s, V, TODAY, "online")
    assert b.code == "ARREARS" and b.amount_fen == 3320
    assert b.details["final_bill_shortfall_fen"] == 3320


def test_arrears_scope_owner_counts_the_owners_other_lines() -> None:
    s = snap(other_lines_arrears_fen=1500)
    assert codes(s) == []
    owner_scope = Values(arrears_scope="owner")
    [b] = check_cancellation(s, owner_scope, TODAY, "online")
    assert b.code == "ARREARS" and b.amount_fen == 1500
    # With the breakdown the snapshot reads, the remedy pays the line that owes.
    owing = (OwingLine("13900000001", "cancelled", 1500),)
    s = snap(other_lines_arrears_fen=1500, other_lines_owing=owing)
    [b] = check_cancellation(s, owner_scope, TODAY, "online")
    assert b.amount_fen == 1500 and b.details["msisdn"] == "13900000001"
    assert b.remedy is not None and b.remedy["href"] == "/api/v1/lines/13900000001/payments"
    assert check_cancellation(s, V, TODAY, "online") == []


def test_handset_contract_in_term_blocks_with_penalty_end_date_and_link() -> None:
    [b] = check_cancellation(snap(contracts=(handset(),)), V, TODAY, "online")
    assert b.code == "CONTRACT_ACTIVE"
    assert b.amount_fen == 599900 - 299900 + 18000
    assert b.ends_on == dt.date(2026, 12, 31)
    assert b.remedy is not None
    assert b.remedy["href"] == "/api/v1/lines/13800138000/contracts/C-1/early-termination"


def test_ended_or_terminated_contracts_do_not_block() -> None:
    ended = handset(ends=dt.date(2026, 11, 23))
    terminated = dataclasses.replace(handset(), status="terminated")
    assert codes(snap(contracts=(ended, terminated))) == []


def test_lifetime_premium_number_points_to_the_complaint_route() -> None:
    [b] = check_cancellation(snap(contracts=(premium(None),)), V, TODAY, "online")
    assert b.code == "PREMIUM_MIN_SPEND"
    assert b.amount_fen is None
    assert b.remedy is not None and b.remedy["action"] == "complaint"
    assert "12300" in b.remedy["route"]["then"]


def test_premium_number_with_an_end_date_is_payable_online() -> None:
    [b] = check_cancellation(snap(contracts=(premium(dt.date(2027, 1, 31)),)), V, TODAY, "online")
    assert b.code == "PREMIUM_MIN_SPEND" and b.amount_fen == 3 * 13800
    assert b.remedy is not None and b.remedy["action"] == "early_termination"


def test_family_primary_without_members_and_bundle_member_do_not_block() -> None:
    s = snap(family_role="primary", family_other_members=0, bundle_role="member")
    assert codes(s) == []


def test_passport_holder_may_use_a_store_but_not_online() -> None:
    s = snap(id_type="passport")
    [b] = check_cancellation(s, V, TODAY, "online")
    assert b.code == "CHANNEL_NOT_ALLOWED"
    assert b.remedy is not None and b.remedy["action"] == "visit_store"
    assert codes(s, channel="store") == []


def test_abnormal_states_block_with_a_store_visit() -> None:
    for state in ("lost", "fraud_stop", "judicial_freeze"):
        [b] = check_cancellation(snap(status=state), V, TODAY, "online")
        assert b.code == "ABNORMAL_STATE" and b.details["state"] == state


def test_cancelled_line_answers_already_cancelled_only() -> None:
    assert codes(snap(status="cancelled", arrears_fen=100)) == ["ALREADY_CANCELLED"]


def test_suspended_and_retained_lines_may_be_cancelled() -> None:
    assert codes(snap(status="arrears_suspended")) == []
    assert codes(snap(status="retained")) == []


def test_warnings_start_with_unbinding_and_carry_amounts() -> None:
    s = snap(cash_fen=20000, gift_fen=5000, plan_fee_fen=3000, usage_history_fen=(2100, 1800))
    bill = price(s, V, TODAY)
    ws = warnings(s, V, bill, CLOSES)
    assert [w.code for w in ws] == [
        "UNBIND_INTERNET_ACCOUNTS",
        "GIFT_FORFEITED",
        "REFUND_TIMING",
        "LATE_USAGE_RESERVE",
        "QUARANTINE",
        "UNDO_WINDOW",
    ]
    by_code = {w.code: w for w in ws}
    assert by_code["GIFT_FORFEITED"].amount_fen == 5000 - 2400
    assert by_code["LATE_USAGE_RESERVE"].amount_fen == 1950
    assert by_code["QUARANTINE"].details == {"days": 90}
    assert by_code["UNDO_WINDOW"].details == {"hours": 24}


def test_no_money_no_money_warnings() -> None:
    s = snap(cash_fen=2400, plan_fee_fen=3000)
    ws = warnings(s, V, price(s, V, TODAY), CLOSES)
    assert [w.code for w in ws] == ["UNBIND_INTERNET_ACCOUNTS", "QUARANTINE", "UNDO_WINDOW"]


def test_province_policies_differ_from_the_defaults() -> None:
    policy = load(None)
    gd = policy.for_province("44", TODAY)
    bj = policy.for_province("11", TODAY)
    zj = policy.for_province("33", TODAY)
    s = snap(plan_fee_fen=12900, cash_fen=50000, other_lines_arrears_fen=700)
    # Guangdong bills the whole month; the default prorates.
    assert price(s, gd, TODAY).charges_fen == 12900
    assert price(s, zj, TODAY).charges_fen == 10320
    # Beijing counts arrears on the owner's other lines.
    assert codes(s, bj) == ["ARREARS"] and codes(s, zj) == []
    undo = {w.code: w for w in warnings(s, bj, price(s, bj, TODAY), CLOSES)}["UNDO_WINDOW"]
    assert undo.details == {"hours": 48}


@given(
    arrears=st.integers(0, 10_000),
    contract=st.booleans(),
    anchor=st.booleans(),
    primary=st.integers(0, 3),
    orders=st.integers(0, 3),
    bank=st.booleans(),
    id_type=st.sampled_from(["resident_id", "passport"]),
    status=st.sampled_from(["active", "lost", "retained"]),
)
def test_blockers_are_exactly_the_conditions_that_hold(
    arrears: int,
    contract: bool,
    anchor: bool,
    primary: int,
    orders: int,
    bank: bool,
    id_type: str,
    status: str,
) -> None:
    s = snap(
        arrears_fen=arrears,
        contracts=(handset(),) if contract else (),
        bundle_role="anchor" if anchor else None,
        family_role="primary",
        family_other_members=primary,
        pending_orders=tuple(SnapshotOrder(f"O-{i}", "x") for i in range(orders)),
        bank_collection_pending=bank,
        id_type=id_type,
        status=status,
        cash_fen=100_000,
    )
    got = codes(s)
    expected = (
        ["ARREARS"] * (arrears > 0)
        + ["ABNORMAL_STATE"] * (status == "lost")
        + ["CONTRACT_ACTIVE"] * contract
        + ["BROADBAND_BOUND"] * anchor
        + ["FAMILY_PRIMARY"] * (primary > 0)
        + ["PENDING_ORDER"] * orders
        + ["BANK_COLLECTION_PENDING"] * bank
        + ["CHANNEL_NOT_ALLOWED"] * (id_type == "passport")
    )
    assert got == expected
