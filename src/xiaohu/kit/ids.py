"""Identifiers: random, never derived from the clock or a counter a client could guess."""

from __future__ import annotations

import secrets
import uuid

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud at a counter


def new_id() -> str:
    return uuid.uuid4().hex


def reference(prefix: str, province_code: str, day: str) -> str:
    """A short reference a person can read out: XH-44-20261124-7KQ2M9."""
    tail = "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))
    return f"{prefix}-{province_code}-{day.replace('-', '')}-{tail}"


def row_id(value: int) -> str:
    """A row id for a log line, in groups of three (`1_099_511_627_784`): a node's ids run past
    11 digits (its id block), and the log masks any run that long as a possible phone number."""
    return f"{value:_}"
