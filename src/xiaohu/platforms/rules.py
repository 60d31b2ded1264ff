"""Platform API keys and the recycled-number queries: pure rules, no database.

A key is `xhp_` and 43 random URL-safe characters (`secrets`, 256 bits). It is shown once and
never stored: the row keeps its keyed hash (HMAC-SHA256 under a key derived from the
settings' secret key for this one purpose, as the owners' blind index is keyed: a database
dump does not let anyone test guessed keys) and its first 8 characters, for an operator
telling keys apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from xiaohu.kit.bounds import MAX_YEAR, MIN_YEAR, is_digits
from xiaohu.kit.crypto import derive

KEY_PREFIX = "xhp_"
HINT_CHARS = 8
MAX_QUERIES = 1000
_PURPOSE = "platform-api-key"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_index(master: bytes, key: str) -> str:
    """The keyed hash the row is found by (64 hex characters)."""
    return hmac.new(derive(master, _PURPOSE), key.encode(), hashlib.sha256).hexdigest()


def key_hint(key: str) -> str:
    return key[:HINT_CHARS]


def msisdn_problem(msisdn: object) -> str | None:
    """Why a queried number is malformed, or None. The shape only (11 digits from 1): a
    platform may ask about any number, and one never issued is simply unchanged."""
    if not isinstance(msisdn, str) or len(msisdn) != 11 or not is_digits(msisdn):
        return "must be an 11-digit mobile number"
    if msisdn[0] != "1":
        return "must start with 1"
    return None


def date_problem(value: object) -> tuple[dt.date | None, str | None]:
    if not isinstance(value, str) or len(value) != 10:
        return None, "must be a date YYYY-MM-DD"
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None, "must be a real date YYYY-MM-DD"
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        return None, f"must be a date in the years {MIN_YEAR} to {MAX_YEAR}"
    return day, None
