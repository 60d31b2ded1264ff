"""Bearer tokens for subscribers: stateless, HMAC-signed, bound to one line.

`<line_id>.<msisdn>.<expires_epoch>.<nonce>.<mac>`; the MAC key is derived from the secret
key, so changing XIAOHU_SECRET_KEY signs everyone out. Expiry is checked against the injected
clock, so sandbox tests can age a token.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from xiaohu.kit.bounds import is_digits
from xiaohu.kit.crypto import mac

_PURPOSE = "subscriber-token"


@dataclass(frozen=True)
class TokenClaims:
    line_id: int
    msisdn: str
    expires_at: dt.datetime


def issue(master: bytes, line_id: int, msisdn: str, now: dt.datetime, ttl_seconds: int) -> str:
    expires = int(now.timestamp()) + ttl_seconds
    body = f"{line_id}.{msisdn}.{expires}.{secrets.token_hex(8)}"
    return f"{body}.{mac(master, _PURPOSE, body)}"


def verify(master: bytes, token: str, now: dt.datetime) -> TokenClaims | None:
    """The claims of a genuine, unexpired token; None otherwise."""
    parts = token.split(".")
    if len(parts) != 5:
        return None
    body, signature = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(signature, mac(master, _PURPOSE, body)):
        return None
    line_id, msisdn, expires = parts[0], parts[1], parts[2]
    if not (is_digits(line_id) and is_digits(expires)):
        return None
    expires_at = dt.datetime.fromtimestamp(int(expires), dt.UTC)
    if now >= expires_at:
        return None
    return TokenClaims(int(line_id), msisdn, expires_at)
