"""How an audit event is hashed: the chain's integrity rule, without a database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64
NATIONAL_CHAIN = "00"


def event_hash(
    prev_hash: str,
    *,
    chain: str,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    data: dict[str, Any],
) -> str:
    doc = {
        "chain": chain,
        "seq": seq,
        "at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "data": data,
    }
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()
