"""The quote as a signed token: nothing is stored when a line is checked.

A quote is a pure function of the line's snapshot, the policy and the date, so the check need
not write it down: `quote_id` carries what pins the snapshot (the line, its `version`, the last
unbilled usage record counted), the quote's creation and expiry instants and a fingerprint of
the operator's policy, signed with a key derived from the secret key. The cancellation verifies
the signature, refuses an expired quote, a line whose `version` moved or a policy that changed,
and prices the final bill again as of the creation date: the same inputs give the same amounts,
to the fen. Why: the check is the hot path, and a pure read
takes no write lock (SQLite) and commits nothing (PostgreSQL); a forged or altered token fails
the MAC.

Format: `{line_id}.{version}.{usage_upto}.{created_epoch}.{valid_until_epoch}.{policy}.{mac}`,
the policy fingerprint being 8 hex digits and the MAC the first 16 bytes of an HMAC-SHA256,
URL-safe base64.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from xiaohu.kit.crypto import derive

_PURPOSE = "cancellation-quote"
_MAC_BYTES = 16
MAX_LENGTH = 120  # what a quote_id can grow to (ids and epochs are bounded integers)


@dataclass(frozen=True)
class QuoteToken:
    line_id: int
    version: int
    usage_upto: int  # the last unbilled usage record the quote counted; 0 = none
    created_epoch: int
    valid_until_epoch: int
    policy: str  # fingerprint of the policy that priced it (8 hex digits)

    @property
    def created_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.created_epoch, dt.UTC)

    @property
    def valid_until(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.valid_until_epoch, dt.UTC)

    def body(self) -> str:
        return (
            f"{self.line_id}.{self.version}.{self.usage_upto}."
            f"{self.created_epoch}.{self.valid_until_epoch}.{self.policy}"
        )


def _mac(master: bytes, body: str) -> str:
    digest = hmac.new(derive(master, _PURPOSE), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).rstrip(b"=").decode()


def issue(
    master: bytes,
    *,
    line_id: int,
    version: int,
    usage_upto: int | None,
    now: dt.datetime,
    valid_minutes: int,
    policy: str,
) -> QuoteToken:
    """The token of a quote made `now` (whole seconds), valid `valid_minutes`."""
    created = int(now.timestamp())
    return QuoteToken(
        line_id, version, usage_upto or 0, created, created + 60 * valid_minutes, policy
    )


def fingerprint(policy_json: str) -> str:
    """8 hex digits that change whenever the policy does."""
    return hashlib.sha256(policy_json.encode()).hexdigest()[:8]


def sign(master: bytes, token: QuoteToken) -> str:
    body = token.body()
    return f"{body}.{_mac(master, body)}"


def verify(master: bytes, quote_id: str) -> QuoteToken | None:
    """The token of a genuine quote id; None for anything malformed or not signed by us."""
    parts = quote_id.split(".")
    if len(parts) != 7 or len(quote_id) > MAX_LENGTH:
        return None
    body, signature = quote_id.rpartition(".")[0], parts[6]
    if not hmac.compare_digest(signature.encode(), _mac(master, body).encode()):
        return None
    if not all(p.isascii() and p.isdigit() for p in parts[:5]):
        return None
    line_id, version, upto, created, valid = (int(p) for p in parts[:5])
    return QuoteToken(line_id, version, upto, created, valid, parts[5])
