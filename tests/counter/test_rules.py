"""The documents a counter needs (pure rules): every combination of pieces, malformed
numbers named by field, an agent who is the owner, and what the evidence shows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import resident_id
from xiaohu.counter.rules import check_documents, missing
from xiaohu.counter.schemas import Documents
from xiaohu.kit.errors import DomainError

OWNER = {"id_type": "resident_id", "id_number": resident_id(seq=1), "name": "张三"}
AGENT = {"id_type": "resident_id", "id_number": resident_id(seq=2), "name": "张小三"}
LETTER = {"reference": "WT-2026-0001"}


def docs(has_owner: bool, has_agent: bool, has_letter: bool, **over: Any) -> Documents:
    values: dict[str, Any] = {}
    if has_owner:
        values["owner"] = OWNER
    if has_agent:
        values["agent"] = AGENT
    if has_letter:
        values["authorization_letter"] = LETTER
    values.update(over)
    return Documents.model_validate(values)


@given(owner=st.booleans(), agent=st.booleans(), letter=st.booleans())
def test_every_missing_piece_is_named_at_once(owner: bool, agent: bool, letter: bool) -> None:
    d = docs(owner, agent, letter)
    proxy = agent or letter
    expected = [
        name
        for name, needed, present in (
            ("owner", True, owner),
            ("agent", proxy, agent),
            ("authorization_letter", proxy, letter),
        )
        if needed and not present
    ]
    assert missing(d) == expected
    if expected:
        with pytest.raises(DomainError) as caught:
            check_documents(d)
        assert caught.value.code == "DOCUMENTS_MISSING"
        assert caught.value.extra["missing"] == expected
    else:
        seen = check_documents(d)
        assert seen.in_person is not proxy
        assert (seen.letter_reference is not None) is proxy


def test_a_letter_without_an_agent_and_an_agent_without_a_letter() -> None:
    assert missing(docs(True, False, True)) == ["agent"]
    assert missing(docs(True, True, False)) == ["authorization_letter"]
    assert missing(docs(True, False, False)) == []


@given(digit=st.sampled_from("0123456789X"), which=st.sampled_from(["owner", "agent"]))
def test_a_wrong_check_character_names_the_field(digit: str, which: str) -> None:
    good = (OWNER if which == "owner" else AGENT)["id_number"]
    if digit == good[17]:
        return
    bad = {**(OWNER if which == "owner" else AGENT), "id_number": good[:17] + digit}
    with pytest.raises(DomainError) as caught:
        check_documents(docs(True, True, True, **{which: bad}))
    assert caught.value.code == "VALIDATION_FAILED"
    assert caught.value.errors == [
        {"field": f"documents.{which}.id_number", "reason": caught.value.errors[0]["reason"]}
    ]
    assert "check character" in caught.value.errors[0]["reason"]


def test_both_malformed_numbers_are_named() -> None:
    with pytest.raises(DomainError) as caught:
        check_documents(
            docs(True, True, True, owner={**OWNER, "id_number": "123"},
                 agent={**AGENT, "id_number": "456"})
        )  # fmt: skip
    assert [e["field"] for e in caught.value.errors or []] == [
        "documents.owner.id_number",
        "documents.agent.id_number",
    ]


@given(case=st.sampled_from(["same", "lower_x", "spaces"]))
def test_an_agent_whose_id_is_the_owners_is_refused(case: str) -> None:
    owner_x = {**OWNER, "id_number": resident_id(seq=5)}
    while not owner_x["id_number"].endswith("X"):  # a number ending in X, to test its case
        owner_x = {**OWNER, "id_number": resident_id(seq=int(owner_x["id_number"][14:17]) + 1)}
    number = owner_x["id_number"]
    agent_number = {"same": number, "lower_x": number.lower(), "spaces": f" {number} "}[case]
    with pytest.raises(DomainError) as caught:
        check_documents(
            docs(True, True, True, owner=owner_x, agent={**AGENT, "id_number": agent_number})
        )
    assert caught.value.code == "AGENT_IS_OWNER"


def test_the_evidence_is_masked() -> None:
    seen = check_documents(docs(True, True, True))
    evidence = seen.evidence()
    assert evidence["originals_seen"] is True
    assert evidence["authorization_letter"] == "WT-2026-0001"
    assert (
        evidence["owner"]["id_number_masked"]
        == OWNER["id_number"][:6] + "********" + (OWNER["id_number"][-4:])
    )
    assert evidence["owner"]["name_masked"] == "*三"
    assert OWNER["id_number"] not in str(evidence) and AGENT["id_number"] not in str(evidence)
    in_person = check_documents(docs(True, False, False)).evidence()
    assert set(in_person) == {"originals_seen", "owner"}


def test_passports_are_checked_for_shape_only() -> None:
    passport = {"id_type": "passport", "id_number": "e12345678", "name": "John Smith"}
    seen = check_documents(docs(False, False, False, owner=passport))
    assert seen.owner.id_number == "E12345678"
    with pytest.raises(DomainError) as caught:
        check_documents(docs(False, False, False, owner={**passport, "id_number": "E1"}))
    assert caught.value.code == "VALIDATION_FAILED"
