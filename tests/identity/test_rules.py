"""Pure identity pieces: the GB 11643 check, masking, PII crypto, passwords, tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xiaohu import principals as tokens
from xiaohu.identity import passwords
from xiaohu.identity.rules import (
    IdProblem,
    check_resident_id,
    mask_id,
    mask_msisdn,
    mask_name,
    normalise_document,
    resident_id_check_char,
)
from xiaohu.kit.crypto import PiiCipher, derive, mac

KEY = b"test-master-key-0123456789abcdefghijkl"
NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)

# A published sample number (GB 11643 examples use the same region and date).
VALID = "11010519491231002X"


def with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


# --- GB 11643-1999 ------------------------------------------------------------------------


def test_known_valid_ids_pass() -> None:
    assert check_resident_id(VALID) == VALID
    assert check_resident_id("11010119900307803X") == "11010119900307803X"
    assert check_resident_id("440524188001010014") == "440524188001010014"


def test_lower_case_x_and_spaces_are_normalised() -> None:
    assert check_resident_id(" 11010519491231002x ") == VALID


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("1101051949123100", "18 characters"),
        ("11010519491231002XX", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        ("110105194912310021", "check character is 1, expected X"),
        ("990105194912310021", "region code"),
        ("110105194902300021", "not a real date"),
    ],
)
def test_bad_ids_say_what_is_wrong(number: str, reason: str) -> None:
    with pytest.raises(IdProblem, match=reason):
        check_resident_id(number)


def test_non_string_is_refused() -> None:
    with pytest.raises(IdProblem, match="string"):
        check_resident_id(110105194912310021)  # type: ignore[arg-type]


def test_hong_kong_macao_taiwan_region_codes_are_accepted() -> None:
    for region in ("810000", "820000", "710000"):
        number = with_check(region + "19900101001")
        assert check_resident_id(number) == number


@given(
    region=st.sampled_from(["110101", "310104", "440305", "510107", "650102"]),
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
    seq=st.integers(min_value=0, max_value=999),
)
def test_any_number_with_its_check_char_passes_and_any_other_fails(
    region: str, birth: dt.date, seq: int
) -> None:
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    good = with_check(first17)
    assert check_resident_id(good) == good
    for wrong in "0123456789X":
        if wrong != good[-1]:
            with pytest.raises(IdProblem, match="check character"):
                check_resident_id(first17 + wrong)


@given(st.text(min_size=17, max_size=17, alphabet="0123456789"))
def test_check_char_is_one_of_eleven(first17: str) -> None:
    assert resident_id_check_char(first17) in "0123456789X"


def test_single_digit_change_is_always_caught() -> None:
    """MOD 11-2 catches every single-digit substitution."""
    first17 = "11010519491231002"
    good = with_check(first17)
    for i in range(17):
        for d in "0123456789":
            if d == first17[i]:
                continue
            changed = first17[:i] + d + first17[i + 1 :]
            assert resident_id_check_char(changed) != good[-1]


def test_other_documents_are_normalised_loosely() -> None:
    assert normalise_document("passport", " e12345678 ") == "E12345678"
    assert normalise_document("hk_macao_permit", "H1234-5678") == "H1234-5678"
    with pytest.raises(IdProblem, match="5-30"):
        normalise_document("passport", "E1")
    with pytest.raises(IdProblem, match="5-30"):
        normalise_document("passport", "E12 345 678")
    with pytest.raises(IdProblem, match="check character"):
        normalise_document("resident_id", "110105194912310021")


# --- masking --------------------------------------------------------------------------------


def test_mask_id_keeps_region_and_last_four_never_the_birth_date() -> None:
    assert mask_id(VALID) == "110105********002X"
    assert "19491231" not in mask_id(VALID)
    assert mask_id("E1234567") == "E*******"
    assert mask_id("E12345678") == "E1*****78"
    assert mask_id("H1234567890") == "H1*******90"


@given(st.text(alphabet="0123456789X", min_size=14, max_size=30))
def test_mask_id_of_long_numbers_keeps_region_and_last_four(number: str) -> None:
    masked = mask_id(number)
    assert len(masked) == len(number)
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert set(masked[6:-4]) == {"*"}


@given(st.text(alphabet="0123456789ABCDEFGHX", min_size=1, max_size=30))
def test_mask_id_always_hides_something_real(number: str) -> None:
    masked = mask_id(number)
    assert len(masked) == len(number)
    assert masked.count("*") >= min(len(number) - 1, 4)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张", "*"), ("张三", "*三"), ("王小明", "**明"), ("欧阳娜娜", "**娜娜"), ("", "*")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@given(st.text(min_size=2, max_size=12))
def test_mask_name_never_shows_the_first_character(name: str) -> None:
    masked = mask_name(name)
    assert masked[0] == "*"
    assert len(masked) == len(name)


def test_mask_msisdn() -> None:
    assert mask_msisdn("13800138000") == "138****8000"


# --- crypto ----------------------------------------------------------------------------------


def test_derived_keys_differ_by_purpose_and_master() -> None:
    assert derive(KEY, "a") != derive(KEY, "b")
    assert derive(KEY, "a") != derive(KEY + b"x", "a")
    assert len(derive(KEY, "a")) == 32


def test_pii_round_trip_and_context_binding() -> None:
    cipher = PiiCipher(KEY)
    blob = cipher.encrypt(VALID, "owner:resident_id")
    assert VALID.encode() not in blob
    assert cipher.decrypt(blob, "owner:resident_id") == VALID
    assert cipher.encrypt(VALID, "owner:resident_id") != blob  # fresh nonce each time
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        cipher.decrypt(blob, "owner:passport")
    with pytest.raises(Exception):  # noqa: B017
        PiiCipher(KEY + b"other").decrypt(blob, "owner:resident_id")


def test_blind_index_is_deterministic_keyed_and_typed() -> None:
    a, b = PiiCipher(KEY), PiiCipher(KEY)
    assert a.blind_index("resident_id", VALID) == b.blind_index("resident_id", VALID)
    assert a.blind_index("resident_id", VALID) != a.blind_index("passport", VALID)
    assert a.blind_index("resident_id", VALID) != PiiCipher(KEY + b"x").blind_index(
        "resident_id", VALID
    )
    assert len(a.blind_index("resident_id", VALID)) == 64


def test_mac_is_url_safe_and_purpose_bound() -> None:
    m = mac(KEY, "p", "hello")
    assert "=" not in m and "+" not in m and "/" not in m
    assert m == mac(KEY, "p", "hello") != mac(KEY, "q", "hello")


# --- service passwords -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("135790", True),
        ("000000", True),
        ("13579", False),
        ("1357900", False),
        ("13579a", False),
        (135790, False),
        (None, False),
    ],
)
def test_service_password_format(value: object, ok: bool) -> None:
    assert passwords.is_valid_service_password(value) is ok


def test_argon2_hash_verifies_only_the_right_password() -> None:
    stored = passwords.hash_password("135790")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(KEY, "13800138000", stored, "135790")
    assert not passwords.verify(KEY, "13800138000", stored, "135791")
    assert not passwords.needs_upgrade(stored)


def test_imported_hash_is_keyed_bound_to_the_number_and_needs_upgrade() -> None:
    stored = passwords.hash_for_import(KEY, "13800138000", "135790")
    assert stored.startswith("hmac$")
    assert "135790" not in stored
    assert passwords.verify(KEY, "13800138000", stored, "135790")
    assert not passwords.verify(KEY, "13800138000", stored, "135791")
    assert not passwords.verify(KEY, "13800138001", stored, "135790")
    assert not passwords.verify(KEY + b"x", "13800138000", stored, "135790")
    assert passwords.needs_upgrade(stored)


def test_missing_or_garbage_hash_never_verifies() -> None:
    assert not passwords.verify(KEY, "13800138000", None, "135790")
    assert not passwords.verify(KEY, "13800138000", "", "135790")
    assert not passwords.verify(KEY, "13800138000", "not-a-hash", "135790")


# --- tokens ----------------------------------------------------------------------------------


def test_token_round_trip() -> None:
    token = tokens.issue(KEY, 7, "13800138000", NOW, 1800)
    claims = tokens.verify(KEY, token, NOW + dt.timedelta(seconds=1799))
    assert claims is not None
    assert (claims.line_id, claims.msisdn) == (7, "13800138000")
    assert claims.expires_at == NOW + dt.timedelta(seconds=1800)


def test_token_expires_at_its_ttl() -> None:
    token = tokens.issue(KEY, 7, "13800138000", NOW, 1800)
    assert tokens.verify(KEY, token, NOW + dt.timedelta(seconds=1800)) is None


def test_token_from_another_key_or_tampered_is_refused() -> None:
    token = tokens.issue(KEY, 7, "13800138000", NOW, 1800)
    assert tokens.verify(KEY + b"x", token, NOW) is None
    parts = token.split(".")
    for i, forged in ((0, "8"), (1, "13800138001"), (2, str(int(parts[2]) + 3600))):
        changed = parts.copy()
        changed[i] = forged
        assert tokens.verify(KEY, ".".join(changed), NOW) is None


@pytest.mark.parametrize("garbage", ["", "a.b.c", "a.b.c.d.e", "x" * 200, "1.2.3.4.5.6"])
def test_garbage_tokens_are_refused(garbage: str) -> None:
    assert tokens.verify(KEY, garbage, NOW) is None


def test_two_tokens_for_the_same_line_differ() -> None:
    assert tokens.issue(KEY, 7, "13800138000", NOW, 60) != tokens.issue(
        KEY, 7, "13800138000", NOW, 60
    )
