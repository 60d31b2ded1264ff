"""The sandbox payment gateway behaves like a real one: idempotent by key, magic declines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xiaohu.billing.gateway import (
    SANDBOX_LIMIT_FEN,
    IdempotencyConflict,
    SandboxPaymentGateway,
    load_payment_gateway,
)

MSISDN = "13800138000"


def test_a_charge_succeeds_with_a_reference_derived_from_the_key() -> None:
    gw = SandboxPaymentGateway()
    r = gw.charge(3800, MSISDN, "k-1")
    assert r.succeeded and r.gateway_ref is not None and r.gateway_ref.startswith("sbx_ch_")
    assert SandboxPaymentGateway().charge(3800, MSISDN, "k-1").gateway_ref == r.gateway_ref
    assert gw.charge(3800, MSISDN, "k-2").gateway_ref != r.gateway_ref


def test_a_retry_with_the_same_key_never_charges_twice() -> None:
    gw = SandboxPaymentGateway()
    first = gw.charge(3800, MSISDN, "k-1")
    again = gw.charge(3800, MSISDN, "k-1")
    assert again == first
    assert gw.charges_made == 1


def test_same_key_other_amount_is_refused() -> None:
    gw = SandboxPaymentGateway()
    gw.charge(3800, MSISDN, "k-1")
    with pytest.raises(IdempotencyConflict):
        gw.charge(3900, MSISDN, "k-1")


@pytest.mark.parametrize("amount", [9999, 19999, 1_239_999])
def test_amounts_ending_in_9999_are_declined(amount: int) -> None:
    gw = SandboxPaymentGateway()
    r = gw.charge(amount, MSISDN, "k")
    assert r.status == "declined" and r.reason == "card_declined"
    assert gw.charges_made == 0


def test_above_the_limit_is_declined() -> None:
    gw = SandboxPaymentGateway()
    assert gw.charge(SANDBOX_LIMIT_FEN, MSISDN, "a").succeeded
    r = gw.charge(SANDBOX_LIMIT_FEN + 1, MSISDN, "b")
    assert r.reason == "amount_over_limit"


@pytest.mark.parametrize("amount", [0, -1, True, 1.5])
def test_non_positive_or_non_int_amounts_are_a_bug(amount: object) -> None:
    with pytest.raises(ValueError):
        SandboxPaymentGateway().charge(amount, MSISDN, "k")  # type: ignore[arg-type]


def test_refunds_are_idempotent_and_do_not_use_the_decline_magic() -> None:
    gw = SandboxPaymentGateway()
    r = gw.refund(9999, MSISDN, "r-1", original_ref="sbx_ch_x")
    assert r.succeeded and r.gateway_ref is not None and r.gateway_ref.startswith("sbx_re_")
    assert gw.refund(9999, MSISDN, "r-1") == r
    assert gw.refunds_made == 1


def test_settings_select_the_sandbox() -> None:
    assert isinstance(load_payment_gateway("sandbox"), SandboxPaymentGateway)


@given(amount=st.integers(min_value=1, max_value=SANDBOX_LIMIT_FEN))
def test_only_the_magic_suffix_declines_within_the_limit(amount: int) -> None:
    r = SandboxPaymentGateway().charge(amount, MSISDN, f"k{amount}")
    assert r.succeeded == (amount % 10000 != 9999)
