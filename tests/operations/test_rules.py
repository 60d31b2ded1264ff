"""The masking of log lines and the choice of request id (pure rules)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.operations.rules import REQUEST_ID_MAX, mask_text, mask_value, request_id

mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
any_text = st.text(max_size=40)
LONG_RUN = re.compile(r"\d{11,}")


@given(before=any_text, mobile=mobiles, after=any_text)
def test_no_embedded_mobile_number_comes_out(before: str, mobile: str, after: str) -> None:
    masked = mask_text(before + mobile + after)
    assert mobile not in masked
    assert LONG_RUN.search(masked) is None  # nothing long enough to hold one is left


@given(mobile=mobiles, around=st.sampled_from(["{}", "tel:{}.", "号码{}已注销", "/{}/x"]))
def test_a_mobile_number_keeps_its_head_and_tail(mobile: str, around: str) -> None:
    masked = mobile[:3] + "****" + mobile[-4:]
    assert mask_text(around.format(mobile)) == around.format(masked)


def test_the_usual_forms() -> None:
    assert mask_text("sms to 13800000001 failed") == "sms to 138****0001 failed"
    assert mask_text("id 11010119900307123X ok") == "id 110101********123X ok"
    assert mask_text("+8613800000001") == "+861******0001"
    assert mask_text("card 6222021234567890123") == "card 622************0123"
    assert mask_text("amount 1234567890 fen, line 42") == "amount 1234567890 fen, line 42"


def test_every_string_inside_a_field_is_masked() -> None:
    value = {"to": ["13800000001", ("13900000002",)], "n": 13700000003, "ok": True, "fen": 500}
    assert mask_value(value) == {
        "to": ["138****0001", ["139****0002"]],
        "n": "137****0003",
        "ok": True,
        "fen": 500,
    }


def test_a_sane_request_id_is_kept() -> None:
    for given_id in ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "a" * REQUEST_ID_MAX]:
        assert request_id(given_id) == given_id


def test_an_insane_request_id_is_replaced() -> None:
    for bad in ["", "a" * (REQUEST_ID_MAX + 1), "x y", "a\nb", "<script>", "id;drop", "号"]:
        new = request_id(bad)
        assert new != bad
        assert request_id(new) == new  # what is made is itself sane


def test_new_request_ids_differ() -> None:
    assert len({request_id(None) for _ in range(100)}) == 100


def test_a_number_in_full_width_or_mixed_digits_is_masked_too() -> None:
    assert mask_text("号码１３８０００００００１") == "号码１３８****０００１"
    assert mask_text("13000000000٠000000") == "130000********0000"  # 18 digits: as an ID
