"""Import record validation (pure): every bad input is named by line and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import example_contracts, line_record, resident_id
from xiaohu.intake.rules import FieldError, FileChecks, LineRecord, check_number, validate_record
from xiaohu.kit.bounds import MAX_FEN


def _errors(record: object, line: int = 7) -> list[tuple[str, str]]:
    parsed, errors = validate_record(record, line)
    assert (parsed is None) == bool(errors)
    assert all(e.line == line for e in errors)
    return [(e.field, e.reason) for e in errors]


def _fields(record: object) -> list[str]:
    return [f for f, _ in _errors(record)]


def test_a_factory_record_is_valid_and_typed() -> None:
    record, errors = validate_record(line_record(province="44"), 1)
    assert errors == []
    assert record is not None
    assert record.province_code == "44"
    assert record.plan_monthly_fee_fen == 12900
    assert record.usage_history_fen == [2100, 1800, 2500]


def test_api_example_record_is_valid() -> None:
    example = {
        "msisdn": "13800138000",
        "status": "active",
        "opened_on": "2019-05-01",
        "home": {"province_code": "11", "city": "北京"},
        "real_name_verified": True,
        "owner": {"name": "张三", "id_type": "resident_id", "id_number": "11010119900307803X"},
        "service_password": "135790",
        "plan": {"code": "5G-129", "name": "5G畅享129元", "monthly_fee_fen": 12900},
        "balance": {"cash_fen": 5000, "gift_fen": 2000},
        "unpaid_bills": [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        "usage_unbilled_fen": 1200,
        "usage_history_fen": [2100, 1800, 2500],
        "bundle": {"id": "BB-1", "broadband_account": "01012345678", "role": "anchor"},
        "family": {"group_id": "F-1", "role": "primary"},
        "contracts": example_contracts(),
        "pending_orders": [{"id": "O-1", "kind": "plan_change"}],
        "bank_collection_pending": False,
        "payment_route": {"kind": "alipay", "account": "zh***@example.com"},
    }
    record, errors = validate_record(example, 1)
    assert errors == [], errors
    assert record is not None and record.contracts[1].ends_on is None


def test_not_an_object() -> None:
    assert _fields([1, 2]) == ["(record)"]


def test_wrong_check_character_names_owner_id_number() -> None:
    good = resident_id()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    errors = _errors(
        line_record(owner={"name": "张三", "id_type": "resident_id", "id_number": wrong})
    )
    assert errors[0][0] == "owner.id_number"
    assert "check character" in errors[0][1]


def test_lower_case_x_is_normalised() -> None:
    record, errors = validate_record(
        line_record(
            owner={"name": "张三", "id_type": "resident_id", "id_number": "11010119900307803x"}
        ),
        1,
    )
    assert errors == [] and record is not None
    assert record.id_number == "11010119900307803X"


def test_passport_is_checked_loosely() -> None:
    ok = line_record(owner={"name": "John Smith", "id_type": "passport", "id_number": "E12345678"})
    assert _errors(ok) == []
    bad = dict(ok, owner={"name": "John Smith", "id_type": "passport", "id_number": "E1"})
    assert _fields(bad) == ["owner.id_number"]


def test_unknown_id_type() -> None:
    bad = line_record(owner={"name": "张三", "id_type": "library_card", "id_number": "12345"})
    assert _fields(bad) == ["owner.id_type"]


def test_unknown_province() -> None:
    errors = _errors(line_record(home={"province_code": "99"}))
    assert errors[0][0] == "home.province_code"
    assert "99" in errors[0][1]


def test_unknown_status() -> None:
    errors = _errors(line_record(status="cancelled"))
    assert errors[0][0] == "status" and "cancelled" in errors[0][1]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"balance": {"cash_fen": -1, "gift_fen": 0}}, "balance.cash_fen"),
        ({"balance": {"cash_fen": 0, "gift_fen": -5}}, "balance.gift_fen"),
        ({"usage_unbilled_fen": -100}, "usage_unbilled_fen"),
        ({"usage_history_fen": [100, -1]}, "usage_history_fen[1]"),
        (
            {"unpaid_bills": [{"period": "2026-10", "amount_fen": -3800}]},
            "unpaid_bills[0].amount_fen",
        ),
        (
            {"contracts": [{"id": "C", "kind": "handset", "handset_list_price_fen": -1}]},
            "contracts[0].handset_list_price_fen",
        ),
    ],
)
def test_negative_amounts(override: dict[str, Any], field: str) -> None:
    errors = _errors(line_record(**override))
    assert errors[0][0] == field
    assert "negative" in errors[0][1]


@pytest.mark.parametrize("amount", [12.5, "5000", True, None, [1]])
def test_amounts_must_be_int_fen(amount: object) -> None:
    assert _fields(line_record(balance={"cash_fen": amount})) == (
        [] if amount is None else ["balance.cash_fen"]
    )


def test_missing_required_fields() -> None:
    record = line_record()
    for key in ("msisdn", "owner", "plan", "status"):
        broken = {k: v for k, v in record.items() if k != key}
        assert _errors(broken) == [(key, "required")]
    assert _fields(dict(record, plan={"code": "X", "name": "Y"})) == ["plan.monthly_fee_fen"]
    assert _fields(dict(record, owner={"name": "张三", "id_type": "resident_id"})) == [
        "owner.id_number"
    ]


def test_unknown_fields_are_named() -> None:
    assert _errors(line_record(nickname="小虎")) == [("nickname", "unknown field")]
    assert _errors(line_record(plan={"code": "A", "name": "B", "monthly_fee_fen": 1, "x": 1})) == [
        ("plan.x", "unknown field")
    ]
    bad = line_record(
        contracts=[{"id": "C", "kind": "handset"}, {"id": "D", "kind": "handset", "y": 2}]
    )
    assert _fields(bad) == ["contracts[1].y"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"msisdn": 13800138000}, "msisdn"),
        ({"owner": "张三"}, "owner"),
        ({"plan": ["5G"]}, "plan"),
        ({"status": 1}, "status"),
        ({"real_name_verified": "yes"}, "real_name_verified"),
        ({"contracts": {"id": "C"}}, "contracts"),
        ({"usage_history_fen": 100}, "usage_history_fen"),
        ({"opened_on": 20190501}, "opened_on"),
        ({"bank_collection_pending": 0}, "bank_collection_pending"),
    ],
)
def test_wrong_json_types(override: dict[str, Any], field: str) -> None:
    errors = _errors(line_record(**override))
    assert [f for f, _ in errors] == [field]
    assert "must be" in errors[0][1]


def test_wrong_kinds_and_roles() -> None:
    bad = line_record(
        contracts=[{"id": "C-1", "kind": "handset"}, {"id": "C-2", "kind": "gym"}],
        bundle={"id": "BB", "role": "owner"},
        family={"group_id": "F", "role": "child"},
    )
    assert _fields(bad) == ["bundle.role", "family.role", "contracts[1].kind"]


def test_dates_and_periods() -> None:
    assert _fields(line_record(opened_on="2019-02-30")) == ["opened_on"]
    assert _fields(line_record(opened_on="2019-5-1")) == ["opened_on"]
    assert _fields(line_record(unpaid_bills=[{"period": "2026-13", "amount_fen": 1}])) == [
        "unpaid_bills[0].period"
    ]
    dup = [{"period": "2026-10", "amount_fen": 1}, {"period": "2026-10", "amount_fen": 2}]
    assert _fields(line_record(unpaid_bills=dup)) == ["unpaid_bills[1].period"]


def test_service_password_must_be_six_digits() -> None:
    assert _fields(line_record(service_password="12345")) == ["service_password"]
    assert _fields(line_record(service_password=123456)) == ["service_password"]
    assert _errors(line_record(service_password=None)) == []


def test_bad_numbers() -> None:
    assert _fields(line_record(msisdn="1380013800")) == ["msisdn"]
    assert _fields(line_record(msisdn="23800138000")) == ["msisdn"]
    assert check_number("10000000000") is not None
    assert check_number("13800138000") is None


def test_home_is_derived_from_the_prefix() -> None:
    record, _ = validate_record(line_record(msisdn="13800138000"), 1)
    assert record is not None and record.province_code == "11"


def test_home_is_required_when_the_prefix_does_not_tell() -> None:
    number = "19900000000"
    assert check_number(number) is None
    errors = _errors(line_record(msisdn=number))
    assert errors[0][0] == "home" and "required" in errors[0][1]
    record, errs = validate_record(line_record(msisdn=number, home={"province_code": "44"}), 1)
    assert errs == [] and record is not None and record.province_code == "44"


def test_every_error_of_a_record_is_reported() -> None:
    bad = line_record(status="x", balance={"cash_fen": -1}, nickname=1)
    assert set(_fields(bad)) == {"status", "balance.cash_fen", "nickname"}


def test_error_renders_as_line_field_reason() -> None:
    assert str(FieldError(3, "owner.id_number", "bad")) == "line 3: owner.id_number: bad"


@given(
    cash=st.integers(min_value=0, max_value=MAX_FEN),
    gift=st.integers(min_value=0, max_value=MAX_FEN),
)
def test_any_balance_within_the_bound_is_accepted(cash: int, gift: int) -> None:
    record, errors = validate_record(line_record(balance={"cash_fen": cash, "gift_fen": gift}), 1)
    assert errors == [] and record is not None
    assert (record.cash_fen, record.gift_fen) == (cash, gift)


@given(amount=st.integers(min_value=MAX_FEN + 1, max_value=2**70))
def test_any_balance_over_the_bound_is_refused(amount: int) -> None:
    fields = _fields(line_record(balance={"cash_fen": amount}, usage_history_fen=[amount]))
    assert fields == ["balance.cash_fen", "usage_history_fen[0]"]


@given(amount=st.integers(max_value=-1))
def test_any_negative_amount_is_refused(amount: int) -> None:
    assert _fields(line_record(usage_unbilled_fen=amount)) == ["usage_unbilled_fen"]


# ---- checks across the file


def _valid(*records: dict[str, Any]) -> list[LineRecord]:
    out = []
    for i, r in enumerate(records, start=1):
        rec, errors = validate_record(r, i)
        assert rec is not None, errors
        out.append(rec)
    return out


def _none(_records: list[LineRecord]) -> dict[str, frozenset[str]]:
    return {}


def test_duplicate_number_names_the_first_line() -> None:
    a = line_record()
    recs = _valid(a, line_record(), copy.deepcopy(a))
    ok, errors = FileChecks().check(recs, _none)
    assert len(ok) == 2
    assert [(e.line, e.field) for e in errors] == [(3, "msisdn")]
    assert "line 1" in errors[0].reason


def test_sixth_line_for_one_id_is_refused() -> None:
    person = {"name": "张三", "id_type": "resident_id", "id_number": resident_id()}
    recs = _valid(*(line_record(owner=person) for _ in range(6)))
    ok, errors = FileChecks().check(recs, _none)
    assert len(ok) == 5
    assert [(e.line, e.field) for e in errors] == [(6, "owner.id_number")]


def test_lines_already_in_the_database_count() -> None:
    person = {"name": "张三", "id_type": "resident_id", "id_number": resident_id()}
    recs = _valid(*(line_record(owner=person) for _ in range(4)))
    key = recs[0].owner_key
    in_db = frozenset({"13800000001", "13800000002", recs[0].msisdn})

    def known(_records: list[LineRecord]) -> dict[str, frozenset[str]]:
        return {key: in_db}

    ok, errors = FileChecks().check(recs, known)
    # re-importing a number of the owner does not count twice: 3 in db + 2 new = 5; then 6
    assert [r.line for r in ok] == [1, 2, 3]
    assert [(e.line, e.field) for e in errors] == [(4, "owner.id_number")]


def test_policy_limit_is_used() -> None:
    person = {"name": "张三", "id_type": "resident_id", "id_number": resident_id()}
    recs = _valid(*(line_record(owner=person) for _ in range(3)))
    ok, errors = FileChecks(max_lines_per_id=2).check(recs, _none)
    assert len(ok) == 2 and len(errors) == 1


def test_two_anchors_for_one_bundle() -> None:
    recs = _valid(
        line_record(bundle={"id": "BB-1", "role": "anchor"}),
        line_record(bundle={"id": "BB-1", "role": "anchor"}),
        line_record(bundle={"id": "BB-1", "role": "member"}),
    )
    ok, errors = FileChecks().check(recs, _none)
    assert [r.line for r in ok] == [1, 3]
    assert [(e.line, e.field) for e in errors] == [(2, "bundle.role")]


def test_records_survive_pickling_between_processes() -> None:
    import pickle

    record, _ = validate_record(
        line_record(
            unpaid_bills=[{"period": "2026-10", "amount_fen": 1, "due_on": "2026-11-15"}],
            contracts=[{"id": "C", "kind": "handset", "ends_on": "2027-01-01"}],
            bundle={"id": "B", "role": "anchor"},
        ),
        4,
    )
    assert record is not None
    assert pickle.loads(pickle.dumps(record)) == record  # noqa: S301 (our own bytes)
