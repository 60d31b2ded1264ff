"""The signed quote token: what it pins, and that nothing else passes for one."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from xiaohu.cancellation import quotes

KEY = b"k" * 40
NOW = dt.datetime(2026, 11, 24, 2, 0, 30, 123456, tzinfo=dt.UTC)


def token(**kw: int | None) -> quotes.QuoteToken:
    values: dict[str, int | None] = {"line_id": 42, "version": 3, "usage_upto": 917}
    values.update(kw)
    return quotes.issue(
        KEY,
        now=NOW,
        valid_minutes=15,
        policy="0a1b2c3d",
        **values,  # type: ignore[arg-type]
    )


def test_a_token_round_trips_and_pins_the_snapshot() -> None:
    t = token()
    quote_id = quotes.sign(KEY, t)
    assert quotes.verify(KEY, quote_id) == t
    assert (t.line_id, t.version, t.usage_upto) == (42, 3, 917)
    assert t.created_at == NOW.replace(microsecond=0)
    assert t.valid_until == t.created_at + dt.timedelta(minutes=15)
    assert len(quote_id) <= quotes.MAX_LENGTH


def test_no_unbilled_usage_is_zero() -> None:
    assert token(usage_upto=None).usage_upto == 0


def test_another_key_or_a_changed_field_does_not_verify() -> None:
    quote_id = quotes.sign(KEY, token())
    assert quotes.verify(b"x" * 40, quote_id) is None
    body, mac = quote_id.rsplit(".", 1)
    for i, part in enumerate(body.split(".")):
        parts = body.split(".")
        parts[i] = str(int(part) + 1) if part.isdigit() else "ffffffff"
        assert quotes.verify(KEY, ".".join(parts) + "." + mac) is None, i
    assert quotes.verify(KEY, body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")) is None


@given(st.text(max_size=120))
def test_anything_else_is_not_a_quote(text: str) -> None:
    assert quotes.verify(KEY, text) is None


@given(
    st.integers(1, 2**40),
    st.integers(1, 2**31),
    st.integers(0, 2**62),
    st.integers(1, 24 * 60),
)
def test_the_longest_ids_fit_the_request_field(
    line_id: int, version: int, upto: int, minutes: int
) -> None:
    t = quotes.issue(
        KEY,
        line_id=line_id,
        version=version,
        usage_upto=upto,
        now=NOW,
        valid_minutes=minutes,
        policy=quotes.fingerprint("{}"),
    )
    quote_id = quotes.sign(KEY, t)
    assert len(quote_id) <= quotes.MAX_LENGTH and quotes.verify(KEY, quote_id) == t
