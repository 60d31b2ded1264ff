"""Line and staff tokens never pass for each other, and say who the audit log names."""

from __future__ import annotations

import datetime as dt

from xiaohu import principals

KEY = b"k" * 32
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def _staff(**kw: object) -> str:
    args: dict[str, object] = {
        "staff_id": 3,
        "login": "gz.wang",
        "role": "clerk",
        "province_code": "44",
        "store_code": "44-GZ-0001",
        "now": NOW,
        "ttl_seconds": 600,
    }
    args.update(kw)
    return principals.issue_staff(KEY, **args)  # type: ignore[arg-type]


def test_a_staff_token_carries_role_province_store_and_names_the_actor() -> None:
    claims = principals.verify_staff(KEY, _staff(), NOW)
    assert claims is not None
    assert (claims.login, claims.role, claims.province_code, claims.store_code) == (
        "gz.wang",
        "clerk",
        "44",
        "44-GZ-0001",
    )
    assert claims.actor == "clerk:gz.wang"
    assert principals.verify(KEY, _staff(), NOW) is None  # not a line token


def test_a_line_token_is_not_a_staff_token() -> None:
    line = principals.issue(KEY, 7, "13800138000", NOW, 600)
    assert principals.verify_staff(KEY, line, NOW) is None
    claims = principals.verify(KEY, line, NOW)
    assert claims is not None and claims.actor == "subscriber" and claims.channel == "online"


def test_a_hotline_token_is_a_line_token_naming_the_agent() -> None:
    token = principals.issue_hotline(
        KEY, 7, "13800138000", agent_id=9, agent_login="hl.li", now=NOW, ttl_seconds=600
    )
    claims = principals.verify(KEY, token, NOW)
    assert claims is not None
    assert (claims.line_id, claims.msisdn, claims.channel) == (7, "13800138000", "hotline")
    assert claims.actor == "hotline_agent:hl.li"
    assert principals.verify_staff(KEY, token, NOW) is None


def test_expired_or_tampered_tokens_are_refused() -> None:
    token = _staff()
    assert principals.verify_staff(KEY, token, NOW + dt.timedelta(seconds=600)) is None
    head, _body, mac = token.split(".")
    forged = _staff(role="admin").split(".")[1]
    assert principals.verify_staff(KEY, f"{head}.{forged}.{mac}", NOW) is None
    assert principals.verify_staff(b"x" * 32, token, NOW) is None
