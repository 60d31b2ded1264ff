"""Bearer tokens: who a request acts as. Stateless, HMAC-signed, checked against the injected
clock (so sandbox tests can age a token); the MAC keys are derived from the secret key, so
changing XIAOHU_SECRET_KEY signs everyone out.

Two kinds, never interchangeable (each has its own MAC purpose):
- a **line token** acts on one line: the subscriber's own (`<line_id>.<msisdn>.<expires>.
  <nonce>.<mac>`), or a hotline agent's session for a caller (`h.<payload>.<mac>`), which
  also names the agent so the audit log can;
- a **staff token** (`s.<payload>.<mac>`) carries the staff member's role, province and store,
  so a route can decide without a database read; a change of role takes effect at the next
  sign-in (tokens live a shift, `staff_token_ttl_seconds`).

A payload is base64url JSON: logins may hold dots, which the plain line format could not carry.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from xiaohu.kit.bounds import is_digits
from xiaohu.kit.crypto import mac

_PURPOSE = "subscriber-token"
_HOTLINE_PURPOSE = "hotline-token"
_STAFF_PURPOSE = "staff-token"

SUBSCRIBER_ACTOR = "subscriber"


@dataclass(frozen=True)
class TokenClaims:
    """A line token: acts on this one line only."""

    line_id: int
    msisdn: str
    expires_at: dt.datetime
    channel: str = "online"  # online | hotline
    agent_id: int | None = None  # the hotline agent acting for the caller
    agent_login: str | None = None

    @property
    def actor(self) -> str:
        """Who the audit log names: the subscriber, or the agent who spoke with them."""
        if self.agent_login:
            return f"hotline_agent:{self.agent_login}"
        return SUBSCRIBER_ACTOR


@dataclass(frozen=True)
class StaffClaims:
    """A staff token: a role, scoped to a province (and a clerk to one store)."""

    staff_id: int
    login: str
    role: str  # clerk | hotline_agent | backoffice | admin
    province_code: str
    store_code: str | None
    expires_at: dt.datetime

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.login}"


def issue(master: bytes, line_id: int, msisdn: str, now: dt.datetime, ttl_seconds: int) -> str:
    """The subscriber's own line token."""
    expires = int(now.timestamp()) + ttl_seconds
    body = f"{line_id}.{msisdn}.{expires}.{secrets.token_hex(8)}"
    return f"{body}.{mac(master, _PURPOSE, body)}"


def issue_hotline(
    master: bytes,
    line_id: int,
    msisdn: str,
    *,
    agent_id: int,
    agent_login: str,
    now: dt.datetime,
    ttl_seconds: int,
) -> str:
    """A line token for a hotline session: the caller's line, acted on by this agent."""
    payload = {
        "l": line_id,
        "m": msisdn,
        "a": agent_id,
        "al": agent_login,
        "e": int(now.timestamp()) + ttl_seconds,
        "n": secrets.token_hex(8),
    }
    return _seal("h", _HOTLINE_PURPOSE, master, payload)


def issue_staff(
    master: bytes,
    *,
    staff_id: int,
    login: str,
    role: str,
    province_code: str,
    store_code: str | None,
    now: dt.datetime,
    ttl_seconds: int,
) -> str:
    payload = {
        "i": staff_id,
        "u": login,
        "r": role,
        "p": province_code,
        "s": store_code,
        "e": int(now.timestamp()) + ttl_seconds,
        "n": secrets.token_hex(8),
    }
    return _seal("s", _STAFF_PURPOSE, master, payload)


def verify(master: bytes, token: str, now: dt.datetime) -> TokenClaims | None:
    """The claims of a genuine, unexpired line token (the subscriber's or a hotline
    session's); None otherwise, a staff token included."""
    if token.startswith("h."):
        return _hotline(master, token, now)
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


def verify_staff(master: bytes, token: str, now: dt.datetime) -> StaffClaims | None:
    """The claims of a genuine, unexpired staff token; None otherwise."""
    p = _open("s", _STAFF_PURPOSE, master, token, now)
    if p is None:
        return None
    try:
        return StaffClaims(
            staff_id=int(p["i"]),
            login=str(p["u"]),
            role=str(p["r"]),
            province_code=str(p["p"]),
            store_code=None if p["s"] is None else str(p["s"]),
            expires_at=dt.datetime.fromtimestamp(int(p["e"]), dt.UTC),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _hotline(master: bytes, token: str, now: dt.datetime) -> TokenClaims | None:
    p = _open("h", _HOTLINE_PURPOSE, master, token, now)
    if p is None:
        return None
    try:
        return TokenClaims(
            line_id=int(p["l"]),
            msisdn=str(p["m"]),
            expires_at=dt.datetime.fromtimestamp(int(p["e"]), dt.UTC),
            channel="hotline",
            agent_id=int(p["a"]),
            agent_login=str(p["al"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _seal(prefix: str, purpose: str, master: bytes, payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    body = f"{prefix}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"
    return f"{body}.{mac(master, purpose, body)}"


def _open(
    prefix: str, purpose: str, master: bytes, token: str, now: dt.datetime
) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != prefix:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], mac(master, purpose, body)):
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        expires = int(payload["e"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if not isinstance(payload, dict) or now.timestamp() >= expires:
        return None
    return payload
