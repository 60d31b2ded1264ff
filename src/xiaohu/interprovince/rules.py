"""A message between provinces, as data: what it says, whom it is for, and its wire form.
Pure: no database. The wire form is a plain JSON object, the same in the outbox row and on a
broker, so nothing about a message changes when provinces move to different servers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from xiaohu.regions.rules import province_problem

TOPIC = "interprovince"  # the outbox topic of every message between provinces


class MalformedMessage(ValueError):
    """A message whose wire form lacks a field or names no real province: never applied."""


@dataclass(frozen=True)
class Message:
    """One message: `kind` says which applier of the receiving province handles it; `payload`
    is that applier's business, in JSON values only. `from_province` is None for a national
    sender (the settlement run)."""

    id: str
    kind: str
    to_province: str
    from_province: str | None
    sent_at: dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "to_province": self.to_province,
            "from_province": self.from_province,
            "sent_at": self.sent_at.isoformat(),
            "payload": self.payload,
        }

    @classmethod
    def from_wire(cls, wire: object) -> Message:
        if not isinstance(wire, dict):
            raise MalformedMessage("a message is a JSON object")
        try:
            sent_at = dt.datetime.fromisoformat(str(wire["sent_at"]))
            message = cls(
                id=str(wire["id"]),
                kind=str(wire["kind"]),
                to_province=str(wire["to_province"]),
                from_province=None if wire["from_province"] is None else str(wire["from_province"]),
                sent_at=sent_at,
                payload=dict(wire["payload"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessage(f"malformed message: {exc!r}") from None
        check_province(message.to_province, "to_province")
        if message.from_province is not None:
            check_province(message.from_province, "from_province")
        return message


def check_province(code: str, field_name: str) -> str:
    problem = province_problem(code)
    if problem is not None:
        raise MalformedMessage(f"{field_name}: {problem}")
    return code
