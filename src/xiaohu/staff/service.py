"""Staff: loading them (created or updated by login) and signing in.

Sign-in answers an unknown login exactly as a wrong password, after the same argon2 work (a
check against a dummy hash), so neither the answer nor its time tells which logins exist.
Failures are counted on the staff row and, after `sign_in_max_failures`, lock it for
`sign_in_lock_minutes` (the subscriber sign-in's policy values); the count and the lock are
committed with the refusal (`keep_writes`). A re-import with a new password lifts a lock-out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import select

from xiaohu import principals
from xiaohu.audit.service import append as audit_append
from xiaohu.audit.service import import_event
from xiaohu.identity.passwords import hash_password, needs_upgrade, verify_hash
from xiaohu.kit.errors import DomainError
from xiaohu.kit.import_records import FieldError
from xiaohu.runtime import Context
from xiaohu.staff.models import Role, StaffMember
from xiaohu.staff.rules import StaffRecord
from xiaohu.staff.schemas import StaffTokenOut


def problems(
    ctx: Context, records: Sequence[StaffRecord], store_province: Mapping[str, str]
) -> list[FieldError]:
    """What the database must agree with: a clerk's store is loaded and in the clerk's
    province (`store_province`: the province of each store the records name, as loaded); a
    new login brings a password."""
    without_password = [r.login for r in records if r.password is None]
    known = set(
        ctx.session.scalars(
            select(StaffMember.login).where(StaffMember.login.in_(without_password))
        )
    )
    errors: list[FieldError] = []
    for r in records:
        if r.role == Role.CLERK and r.store_code is not None:
            province = store_province.get(r.store_code)
            if province is None:
                errors.append(
                    FieldError(
                        r.line,
                        "store_code",
                        f"no store {r.store_code} is loaded (import the stores first)",
                    )
                )
            elif province != r.province_code:
                errors.append(
                    FieldError(
                        r.line,
                        "store_code",
                        f"store {r.store_code} is in province {province}, "
                        f"not the clerk's {r.province_code}",
                    )
                )
        if r.password is None and r.login not in known:
            errors.append(FieldError(r.line, "password", "required for a new member of staff"))
    return errors


def write(
    ctx: Context,
    records: Sequence[StaffRecord],
    source: str,
    *,
    hasher: Callable[[str], str] = hash_password,
) -> tuple[int, int]:
    """Create the new logins, update the known ones; one audit event. (created, updated).

    A known login keeps its password hash (and any lock-out) unless the record brings a
    different password: then the new one is hashed and the lock-out is lifted."""
    now = ctx.now()
    known = {
        m.login: m
        for m in ctx.session.scalars(
            select(StaffMember).where(StaffMember.login.in_([r.login for r in records]))
        )
    }
    created = changed = 0
    for r in records:
        member = known.get(r.login)
        if member is None:
            if r.password is None:  # `problems` refuses it first
                raise DomainError("VALIDATION_FAILED", f"password: required for {r.login}")
            member = StaffMember(login=r.login, created_at=now, failures=0)
            member.password_hash = hasher(r.password)
            ctx.session.add(member)
            created += 1
        elif r.password is not None and not verify_hash(member.password_hash, r.password):
            member.password_hash = hasher(r.password)
            member.failures, member.locked_until = 0, None
            changed += 1
        member.name, member.role, member.province_code = r.name, r.role, r.province_code
        member.store_code = r.store_code if r.role == Role.CLERK else None
        member.updated_at = now
    ctx.session.flush()
    updated = len(records) - created
    if records:
        import_event(
            ctx,
            "staff.imported",
            source,
            {"created": created, "updated": updated, "passwords_changed": changed},
            at=now,
        )
    return created, updated


@cache
def _dummy_hash() -> str:
    """An argon2 hash of nothing anyone knows: an unknown login costs the same check."""
    return hash_password("no staff member has this password: it only spends the time")


def sign_in(ctx: Context, login: str, password: str) -> StaffTokenOut:
    """A staff token for the right login and password.

    Raises VERIFICATION_FAILED (401) for a wrong password or an unknown login, alike, and
    VERIFICATION_LOCKED (429) once locked out; the failure count and the lock are kept with
    the refusal (`keep_writes=True`)."""
    now = ctx.now()
    member = ctx.session.scalars(
        select(StaffMember).where(StaffMember.login == login).with_for_update()
    ).first()
    if member is None:
        verify_hash(_dummy_hash(), password)
        raise _failed()
    if member.locked_until is not None and now >= member.locked_until:
        member.locked_until, member.failures = None, 0  # the lock-out has run its course
    if member.locked_until is not None:
        ctx.session.flush()
        raise _locked(member.locked_until, now)
    policy = ctx.policy_for(member.province_code)
    if not verify_hash(member.password_hash, password):
        member.failures += 1
        _audit(ctx, member, "staff.sign_in_failed", {"failures": member.failures}, now)
        if member.failures >= policy.sign_in_max_failures:
            member.locked_until = now + dt.timedelta(minutes=policy.sign_in_lock_minutes)
            _audit(
                ctx,
                member,
                "staff.locked",
                {"failures": member.failures, "locked_until": member.locked_until.isoformat()},
                now,
            )
            ctx.session.flush()
            raise _locked(member.locked_until, now)
        ctx.session.flush()
        raise _failed(keep_writes=True)
    member.failures = 0
    if needs_upgrade(member.password_hash):  # hashed with older argon2 parameters
        member.password_hash = hash_password(password)
        member.updated_at = now
    ttl = policy.staff_token_ttl_seconds
    token = issue_token(ctx, member, now, ttl)
    _audit(ctx, member, "staff.signed_in", {"expires_in": ttl}, now)
    ctx.session.flush()
    return StaffTokenOut(
        access_token=token,
        expires_in=ttl,
        role=member.role,
        province_code=member.province_code,
        store_code=member.store_code,
        login=member.login,
        name=member.name,
    )


def issue_token(ctx: Context, member: StaffMember, now: dt.datetime, ttl_seconds: int) -> str:
    """A staff bearer token naming this member's role, province and store, from `now`."""
    return principals.issue_staff(
        ctx.settings.key,
        staff_id=member.id,
        login=member.login,
        role=member.role,
        province_code=member.province_code,
        store_code=member.store_code,
        now=now,
        ttl_seconds=ttl_seconds,
    )


def _audit(
    ctx: Context, member: StaffMember, action: str, data: dict[str, Any], now: dt.datetime
) -> None:
    """An event about a member of staff, by them, in their province's chain."""
    audit_append(
        ctx.session,
        at=now,
        actor=f"{member.role}:{member.login}",
        action=action,
        subject=f"staff:{member.login}",
        province_code=member.province_code,
        data=data,
    )


def _failed(*, keep_writes: bool = False) -> DomainError:
    """One answer for a wrong password and an unknown login (no attempts left said: that
    would tell a known login from an unknown one)."""
    return DomainError(
        "VERIFICATION_FAILED",
        "the login or the password is wrong",
        keep_writes=keep_writes,
        # The catalog's messages speak of a subscriber's code and service password.
        message="登录名或密码错误",
        message_en="The login or the password is wrong",
    )


def _locked(locked_until: dt.datetime, now: dt.datetime) -> DomainError:
    wait = max(1, int((locked_until - now).total_seconds()))
    return DomainError(
        "VERIFICATION_LOCKED",
        f"too many failed attempts; sign-in is locked until {locked_until.isoformat()}",
        locked_until=locked_until,
        retry_after=wait,
        headers={"Retry-After": str(wait)},
        keep_writes=True,
    )
