"""Which documents a counter needs, and whether those shown are usable. Pure: no database.

The owner in person shows their own ID original; a proxy (代办) shows the owner's ID original,
their own, and the owner's letter of authorization. Every missing piece is named at once (the
person goes home for all of it in one trip), and each malformed number is named by its field.
Whether the owner's document is the line owner's is the service's question (it needs the
owner's record); that the agent is not the owner is decided here, from the two documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xiaohu.counter.schemas import Documents, PersonDocument
from xiaohu.identity.rules import IdProblem, mask_id, mask_name, normalise_document
from xiaohu.kit.errors import DomainError

PIECES = ("owner", "agent", "authorization_letter")


@dataclass(frozen=True)
class Person:
    id_type: str
    id_number: str  # normalised (upper-case, the check character verified for a resident ID)
    name: str

    def masked(self) -> dict[str, str]:
        return {
            "id_type": self.id_type,
            "id_number_masked": mask_id(self.id_number),
            "name_masked": mask_name(self.name),
        }


@dataclass(frozen=True)
class SeenDocuments:
    """The documents of a counter visit, complete and well formed."""

    owner: Person
    agent: Person | None = None
    letter_reference: str | None = None

    @property
    def in_person(self) -> bool:
        """The owner stands at the counter (no proxy)."""
        return self.agent is None

    def evidence(self) -> dict[str, Any]:
        """What the clerk records having seen (originals), masked, for the audit event."""
        out: dict[str, Any] = {"originals_seen": True, "owner": self.owner.masked()}
        if self.agent is not None:
            out["agent"] = self.agent.masked()
            out["authorization_letter"] = self.letter_reference
        return out


def missing(documents: Documents) -> list[str]:
    """The pieces still needed, in a stable order: the owner's document always; the agent's
    and the letter as soon as either shows this is a proxy."""
    proxy = documents.agent is not None or documents.authorization_letter is not None
    have = {
        "owner": documents.owner is not None,
        "agent": documents.agent is not None or not proxy,
        "authorization_letter": documents.authorization_letter is not None or not proxy,
    }
    return [p for p in PIECES if not have[p]]


def _person(doc: PersonDocument, field: str, problems: list[dict[str, str]]) -> Person | None:
    try:
        number = normalise_document(doc.id_type, doc.id_number)
    except IdProblem as exc:
        problems.append({"field": f"{field}.id_number", "reason": str(exc)})
        return None
    name = doc.name.strip()
    if not name:
        problems.append({"field": f"{field}.name", "reason": "must not be blank"})
        return None
    return Person(doc.id_type, number, name)


def check_documents(documents: Documents) -> SeenDocuments:
    """The documents as seen, or the refusal: DOCUMENTS_MISSING (every piece), then
    VALIDATION_FAILED (every malformed number), then AGENT_IS_OWNER."""
    absent = missing(documents)
    if absent:
        raise DomainError(
            "DOCUMENTS_MISSING",
            "documents missing: " + ", ".join(absent),
            missing=absent,
            errors=[{"field": f"documents.{p}", "reason": "required"} for p in absent],
        )
    problems: list[dict[str, str]] = []
    if documents.owner is None:  # `missing` named it
        raise DomainError("DOCUMENTS_MISSING", "documents missing: owner", missing=["owner"])
    owner = _person(documents.owner, "documents.owner", problems)
    agent = None
    if documents.agent is not None:
        agent = _person(documents.agent, "documents.agent", problems)
    if problems or owner is None:
        raise DomainError(
            "VALIDATION_FAILED",
            "; ".join(f"{p['field']}: {p['reason']}" for p in problems),
            errors=problems,
        )
    if agent is not None and (agent.id_type, agent.id_number) == (owner.id_type, owner.id_number):
        raise DomainError(
            "AGENT_IS_OWNER",
            "the agent's document is the owner's: serve the owner in person, without a letter",
        )
    letter = documents.authorization_letter
    return SeenDocuments(owner, agent, letter.reference.strip() if letter else None)
