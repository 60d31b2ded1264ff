"""Decoding one record of an import file."""

from __future__ import annotations

from xiaohu.intake.check import parse_json_line


def test_a_line_record_with_a_nul_is_refused_naming_its_field() -> None:
    raw = '{"msisdn": "13800138000", "owner": {"name": "张\\u0000三"}}'
    value, problem = parse_json_line(raw, 7)
    assert value is None and problem is not None
    assert (problem.line, problem.field) == (7, "owner.name")
    assert "NUL" in problem.reason


def test_an_escaped_backslash_before_u0000_is_plain_text() -> None:
    value, problem = parse_json_line(b'{"owner": {"name": "\\\\u0000 is text"}}', 8)
    assert problem is None
    assert value == {"owner": {"name": "\\u0000 is text"}}
