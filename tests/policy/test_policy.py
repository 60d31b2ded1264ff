"""The policy file: defaults, per-province overrides with effective dates, clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from xiaohu.policy.loader import PolicyError, load, parse
from xiaohu.policy.schema import Policy, Values

D = dt.date


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load(None)


def test_defaults_are_the_research_values() -> None:
    v = Values()
    assert v.undo_window_hours == 24
    assert v.quarantine_days == 90
    assert v.retention_fee_fen == 500
    assert v.auto_cancel_after_arrears_months == 3
    assert (v.otp_ttl_seconds, v.otp_resend_seconds) == (300, 60)
    assert (v.sign_in_max_failures, v.sign_in_lock_minutes) == (5, 30)
    assert v.max_lines_per_id == 5
    assert v.online_id_types == ["resident_id"]


def test_shipped_policy_loads(shipped: Policy) -> None:
    assert shipped.name == "xiaohu default"
    assert {o.province for o in shipped.overrides} == {"44", "11", "31"}


def test_province_without_overrides_gets_the_defaults(shipped: Policy) -> None:
    assert shipped.for_province("32", D(2026, 11, 24)) == shipped.defaults


def test_guangdong_full_month_and_bigger_reserve(shipped: Policy) -> None:
    v = shipped.for_province("44", D(2026, 11, 24))
    assert v.plan_fee_at_cancellation == "full_month"
    assert v.reserve_cap_fen == 10000
    assert v.undo_window_hours == 24  # not overridden


def test_beijing_owner_scope_and_48h_undo_from_july_2025(shipped: Policy) -> None:
    before = shipped.for_province("11", D(2025, 6, 30))
    on = shipped.for_province("11", D(2025, 7, 1))
    assert (before.arrears_scope, before.undo_window_hours) == ("line", 24)
    assert (on.arrears_scope, on.undo_window_hours) == ("owner", 48)


def test_shanghai_quarantine_from_2026(shipped: Policy) -> None:
    assert shipped.for_province("31", D(2025, 12, 31)).quarantine_days == 90
    assert shipped.for_province("31", D(2026, 1, 1)).quarantine_days == 180
    assert shipped.for_province("44", D(2026, 1, 1)).quarantine_days == 90


def test_provinces_differ_on_the_same_day(shipped: Policy) -> None:
    day = D(2026, 11, 24)
    views = {p: shipped.for_province(p, day) for p in ("11", "31", "44", "32")}
    assert len({v.model_dump_json() for v in views.values()}) == 4


def test_later_override_wins_and_earlier_values_carry_on() -> None:
    policy = parse(
        """
[defaults]
quarantine_days = 90

[[override]]
province = "33"
effective_from = "2027-01-01"
quarantine_days = 120

[[override]]
province = "33"
effective_from = "2026-01-01"
quarantine_days = 60
undo_window_hours = 12
""",
        "test",
    )
    assert policy.for_province("33", D(2025, 12, 31)).quarantine_days == 90
    mid = policy.for_province("33", D(2026, 6, 1))
    assert (mid.quarantine_days, mid.undo_window_hours) == (60, 12)
    late = policy.for_province("33", D(2027, 1, 1))
    assert (late.quarantine_days, late.undo_window_hours) == (120, 12)


def test_empty_file_is_all_defaults() -> None:
    policy = parse("", "empty")
    assert policy.defaults == Values()
    assert policy.overrides == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\nundo_window_hourz = 24\n", "undo_window_hourz"),
        ('[defaults]\nundo_window_hours = "a day"\n', "undo_window_hours"),
        ("[defaults]\nquarantine_days = -1\n", "quarantine_days"),
        ('[defaults]\nplan_fee_at_cancellation = "weekly"\n', "plan_fee_at_cancellation"),
        ('[defaults]\ngift_may_pay = ["beer"]\n', "gift_may_pay"),
        ("[defaults\nx = 1\n", "not valid TOML"),
        ("surprise = 1\n", "unknown top-level key(s): surprise"),
        ("[default]\nquarantine_days = 1\n", "unknown top-level key(s): default"),
        (
            '[[override]]\nprovince = "99"\neffective_from = "2026-01-01"\n',
            "province '99' is not a GB/T 2260 code",
        ),
        ('[[override]]\neffective_from = "2026-01-01"\n', "override #1: province ''"),
        (
            '[[override]]\nprovince = "44"\neffective_from = "2026-01-01"\nquarantine_dayz = 1\n',
            "unknown policy value(s): quarantine_dayz",
        ),
        (
            '[[override]]\nprovince = "44"\neffective_from = "2026-01-01"\nquarantine_days = "x"\n',
            "quarantine_days",
        ),
        ('[[override]]\nprovince = "44"\neffective_from = "soon"\n', "effective_from"),
        ('[[override]]\nprovince = "44"\n', "effective_from"),
    ],
)
def test_bad_files_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse(text, "ops.toml")
    assert str(err.value).startswith("ops.toml")
    assert message in str(err.value)


def test_second_bad_override_is_numbered() -> None:
    text = (
        '[[override]]\nprovince = "44"\neffective_from = "2026-01-01"\n'
        '[[override]]\nprovince = "4"\neffective_from = "2026-01-01"\n'
    )
    with pytest.raises(PolicyError, match="override #2"):
        parse(text, "ops.toml")


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "operator.toml"
    path.write_text('name = "op"\n[defaults]\nquarantine_days = 30\n', "utf-8")
    policy = load(path)
    assert policy.name == "op"
    assert policy.for_province("11", D(2026, 1, 1)).quarantine_days == 30


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(PolicyError, match="does not exist"):
        load(missing)


def test_bad_file_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[defaults]\nreserve_cap_fen = -5\n", "utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml: defaults\.reserve_cap_fen"):
        load(path)


def test_values_are_frozen() -> None:
    v = Values()
    with pytest.raises(ValueError):
        v.quarantine_days = 1  # type: ignore[misc]
