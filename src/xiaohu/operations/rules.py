"""Pure rules of operations: what a log line may show, and which request ids are taken as given.

No database, clock or I/O: these run on every log event and every request.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

# A run of 11 or more digits (a resident ID may end in X): a mobile number (11), a resident ID
# (18), a number with its country code, a bank card. Masked whatever its neighbours, so no run
# long enough to hold a mobile number ever reaches a log line. Any decimal digit counts, not
# only ASCII: a number typed in full-width digits (１３８…) is still a number.
_LONG_NUMBER = re.compile(r"\d{11,}[Xx]?")
_SHORTEST = 11
_ID_LENGTH = 18
_LARGEST_SHOWN_INT = 10**10 - 1  # an int of 11 digits or more is shown masked, as text

# A client's X-Request-ID is kept when it is short and plain (a UUID, a trace id); anything
# else is replaced, so a log line never carries what a client chose to inject.
REQUEST_ID_MAX = 128
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX}}}")


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) == _ID_LENGTH:  # as identity.rules.mask_id: region and the last four
        return run[:6] + "*" * 8 + run[-4:]
    return run[:3] + "*" * (len(run) - 7) + run[-4:]  # '138****0001'


def mask_text(text: str) -> str:
    """`text` with every run of 11+ digits masked: '13800000001' -> '138****0001',
    '110101199001011234' -> '110101********1234'."""
    if len(text) < _SHORTEST:
        return text
    return _LONG_NUMBER.sub(_mask_run, text)


def mask_value(value: Any) -> Any:
    """A log field with every string inside it masked (containers walked, other values kept;
    an integer long enough to be a phone number becomes masked text)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return mask_text(str(value)) if abs(value) > _LARGEST_SHOWN_INT else value
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v) for v in value]
    return value


def request_id(header: str | None) -> str:
    """The client's X-Request-ID when it is sane, else a new one. A new id is URL-safe base64,
    whose 64 letters make a run of 11 digits (which the masking would spoil) all but impossible."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_urlsafe(16)
