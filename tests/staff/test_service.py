"""Staff sign-in and import, against the database: the token, the same refusal for an unknown
login, the lock-out kept on the row, a re-import that changes the password and lifts it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.factories import STAFF_PASSWORD, add_staff, add_store
from tests.staff.records import CLERK
from xiaohu import principals
from xiaohu.audit.models import AuditEvent
from xiaohu.audit.service import verify as verify_audit
from xiaohu.intake.roster import STAFF, STORES, import_items
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context
from xiaohu.staff.models import StaffMember
from xiaohu.staff.service import sign_in


def _events(ctx: Context, login: str) -> list[tuple[str, str, str | None]]:
    rows = ctx.session.scalars(
        select(AuditEvent).where(AuditEvent.subject == f"staff:{login}").order_by(AuditEvent.id)
    )
    return [(e.action, e.actor, e.province_code) for e in rows]


def _refusal(ctx: Context, login: str, password: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        sign_in(ctx, login, password)
    return caught.value


def test_sign_in_issues_a_staff_token_for_the_policy_ttl(ctx: Context) -> None:
    add_store(ctx)
    add_staff(ctx)
    out = sign_in(ctx, "bj.wang", STAFF_PASSWORD)
    assert (out.role, out.province_code, out.store_code, out.login, out.name) == (
        "clerk",
        "11",
        "11-BJ-0001",
        "bj.wang",
        "王五",
    )
    assert out.token_type == "bearer"
    assert out.expires_in == ctx.policy_for("11").staff_token_ttl_seconds == 8 * 3600
    claims = principals.verify_staff(ctx.settings.key, out.access_token, ctx.now())
    assert claims is not None and claims.actor == "clerk:bj.wang"
    assert claims.expires_at == ctx.now() + dt.timedelta(seconds=out.expires_in)
    assert principals.verify(ctx.settings.key, out.access_token, ctx.now()) is None
    assert _events(ctx, "bj.wang") == [("staff.signed_in", "clerk:bj.wang", "11")]
    assert verify_audit(ctx.session)["intact"] is True


def test_an_unknown_login_gets_the_same_answer_as_a_wrong_password(ctx: Context) -> None:
    add_store(ctx)
    add_staff(ctx)
    wrong = _refusal(ctx, "bj.wang", "not-the-password")
    unknown = _refusal(ctx, "bj.nobody", "not-the-password")
    assert (wrong.code, wrong.kind.status) == (unknown.code, unknown.kind.status)
    assert wrong.code == "VERIFICATION_FAILED" and wrong.kind.status == 401
    assert wrong.detail == unknown.detail and wrong.extra == unknown.extra
    assert wrong.keep_writes  # the count is evidence
    assert _events(ctx, "bj.nobody") == []


def test_failures_lock_the_account_then_the_lock_runs_out(ctx: Context, clock: FrozenClock) -> None:
    add_store(ctx)
    member = add_staff(ctx, login="bj.admin", role="admin", store_code=None)
    policy = ctx.policy_for("11")
    for _ in range(policy.sign_in_max_failures - 1):
        assert _refusal(ctx, "bj.admin", "wrong-password").code == "VERIFICATION_FAILED"
    locked = _refusal(ctx, "bj.admin", "wrong-password")
    assert locked.code == "VERIFICATION_LOCKED" and locked.kind.status == 429
    assert locked.keep_writes and int(locked.headers["Retry-After"]) == 30 * 60
    until = ctx.now() + dt.timedelta(minutes=policy.sign_in_lock_minutes)
    assert member.locked_until == until and member.failures == policy.sign_in_max_failures
    # Even the right password waits for the lock to run out.
    assert _refusal(ctx, "bj.admin", STAFF_PASSWORD).code == "VERIFICATION_LOCKED"
    actions = [a for a, _, _ in _events(ctx, "bj.admin")]
    assert actions == ["staff.sign_in_failed"] * 5 + ["staff.locked"]
    clock.advance(dt.timedelta(minutes=policy.sign_in_lock_minutes))
    assert sign_in(ctx, "bj.admin", STAFF_PASSWORD).role == "admin"
    assert member.failures == 0 and member.locked_until is None
    assert verify_audit(ctx.session)["intact"] is True


def test_a_re_import_with_a_new_password_changes_it_and_lifts_the_lock(ctx: Context) -> None:
    import_items(ctx, STORES, [(1, _store())])
    import_items(ctx, STAFF, [(1, _clerk(password="first-password"))])
    for _ in range(5):
        _refusal(ctx, "gz.wang", "wrong-password")
    member = ctx.session.scalars(select(StaffMember).where(StaffMember.login == "gz.wang")).one()
    assert member.locked_until is not None
    # The same password again changes nothing: the lock stays.
    import_items(ctx, STAFF, [(1, _clerk(password="first-password", name="王小五"))])
    assert member.locked_until is not None and member.name == "王小五"
    result = import_items(ctx, STAFF, [(1, _clerk(password="second-password"))])
    assert (result.created, result.updated) == (0, 1)
    assert member.locked_until is None and member.failures == 0
    assert member.password_hash.startswith("$argon2id$")
    assert "second-password" not in member.password_hash
    assert _refusal(ctx, "gz.wang", "first-password").code == "VERIFICATION_FAILED"
    assert sign_in(ctx, "gz.wang", "second-password").store_code == "44-GZ-0001"


def test_a_re_import_may_leave_the_password_out(ctx: Context) -> None:
    import_items(ctx, STORES, [(1, _store()), (2, _store(code="44-GZ-0002", kind="partner"))])
    import_items(ctx, STAFF, [(1, _clerk(password="first-password"))])
    record = {k: v for k, v in _clerk(store_code="44-GZ-0002").items() if k != "password"}
    import_items(ctx, STAFF, [(1, record)])
    assert sign_in(ctx, "gz.wang", "first-password").store_code == "44-GZ-0002"


def test_import_checks_the_clerks_store_against_the_database(ctx: Context) -> None:
    import_items(ctx, STORES, [(1, _store())])
    add_store(ctx)  # 11-BJ-0001, in Beijing
    with pytest.raises(DomainError) as caught:
        import_items(
            ctx,
            STAFF,
            [
                (1, _clerk(login="gz.a")),
                (2, _clerk(login="gz.b", store_code="44-GZ-0099")),
                (3, _clerk(login="gz.c", store_code="11-BJ-0001")),
                (4, {k: v for k, v in _clerk(login="gz.d").items() if k != "password"}),
                (5, _clerk(login="gz.a")),
            ],
        )
    errors = caught.value.errors or []
    assert [(e["line"], e["field"]) for e in errors] == [
        (2, "store_code"),
        (3, "store_code"),
        (4, "password"),
        (5, "login"),
    ]
    assert "not the clerk's 44" in errors[1]["reason"]
    assert ctx.session.scalars(select(StaffMember)).all() == []  # all or nothing
    result = import_items(
        ctx,
        STAFF,
        [(1, _clerk(login="gz.a")), (2, _clerk(login="gz.b", store_code="44-GZ-0099"))],
        skip_invalid=True,
    )
    assert (result.imported, result.skipped) == (1, 1)


def _store(**overrides: str) -> dict[str, str]:
    return {
        "code": "44-GZ-0001",
        "name": "广州天河营业厅",
        "province_code": "44",
        "city": "广州",
        "kind": "own_flagship",
        **overrides,
    }


def _clerk(**overrides: str) -> dict[str, str]:
    return {**CLERK, **overrides}
