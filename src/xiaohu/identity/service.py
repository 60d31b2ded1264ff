"""Online sign-in (service password + SMS one-time code) and real-name confirmation.

The two factors of the online channel: the code proves the SIM is in hand, the service password
is a knowledge factor. Codes are stored only as a keyed MAC; failures are counted per line and
lock sign-in for a while. Failures are writes that must outlive the error answer: their
refusals are raised with `keep_writes=True`, which the units of work commit (`xiaohu.http`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from xiaohu import principals as tokens
from xiaohu.audit.service import line_event
from xiaohu.cancellation.models import latest_cancellation
from xiaohu.cancellation.rules import undo_open
from xiaohu.identity import passwords
from xiaohu.identity.models import SignInState
from xiaohu.identity.rules import IdProblem, mask_msisdn, normalise_document
from xiaohu.kit.crypto import mac
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.lines.models import Line, LineStatus, Owner
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import send_sms
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context

_OTP_PURPOSE = "sign-in-otp"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    expires_at: dt.datetime
    msisdn: str
    line_id: int
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)


def state_for(ctx: Context, line: Line) -> SignInState:
    """The line's sign-in state (created on first use). The caller holds the line lock, so two
    requests never both create it."""
    state = ctx.session.scalars(
        select(SignInState)
        .where(SignInState.line_id == line.id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if state is None:
        state = SignInState(
            line_id=line.id, province_code=line.province_code, failures=0, real_name_failures=0
        )
        ctx.session.add(state)
    return state


def _otp_mac(ctx: Context, line: Line, code: str) -> str:
    return mac(ctx.settings.key, _OTP_PURPOSE, f"{line.id}:{line.msisdn}:{code}")


def lift_expired_lock(state: SignInState, now: dt.datetime) -> None:
    """A lock-out that has run its course starts the count afresh."""
    if state.locked_until is not None and now >= state.locked_until:
        state.locked_until = None
        state.failures = 0


def locked_error(state: SignInState, now: dt.datetime) -> DomainError:
    """The lock-out answer. Its writes (the lock itself, a lifted lock's reset, the audit) are
    kept: a refused attempt must not roll back the count that refused it."""
    if state.locked_until is None:  # only called for a locked state
        raise InvariantViolated("a lock-out answer for a state that is not locked")
    wait = max(1, int((state.locked_until - now).total_seconds()))
    return DomainError(
        "VERIFICATION_LOCKED",
        f"too many failed attempts; sign-in is locked until {state.locked_until.isoformat()}",
        locked_until=state.locked_until,
        retry_after=wait,
        headers={"Retry-After": str(wait)},
        keep_writes=True,
    )


def _signable_line(ctx: Context, msisdn: str) -> Line | None:
    """The line, row-locked, if it exists and is live, or cancelled with its undo window still
    open: the subscriber must be able to sign in to reverse (返销) it online, and a token only
    lasts minutes while the window lasts hours."""
    try:
        line = lock_line(ctx.session, msisdn)
    except DomainError:
        return None
    if line.status != LineStatus.CANCELLED:
        return line
    return line if _undo_open(ctx, line) else None


def _undo_open(ctx: Context, line: Line) -> bool:
    """The line's latest cancellation can still be reversed (the same test as `reverse`)."""
    latest = latest_cancellation(ctx.session, line.id)
    return latest is not None and undo_open(latest, ctx.now())


def request_otp(ctx: Context, msisdn: str) -> int:
    """Send a fresh 6-digit code to the line by SMS; return its lifetime in seconds.

    A cancelled number is deprovisioned and receives no SMS (its next holder might): nothing
    is sent, and the answer says how to sign in instead (`signin.reference`)."""
    try:
        line = lock_line(ctx.session, msisdn)
    except DomainError:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn}") from None
    if line.status == LineStatus.CANCELLED:
        raise DomainError(
            "LINE_CANCELLED",
            f"{mask_msisdn(msisdn)} is cancelled and receives no SMS: sign in with the "
            "cancellation's reference, the service password and the owner's ID number",
        )
    now = ctx.now()
    policy = ctx.policy_for(line.province_code)
    state = state_for(ctx, line)
    lift_expired_lock(state, now)
    if state.locked_until is not None:
        raise locked_error(state, now)
    if state.otp_sent_at is not None:
        next_allowed = state.otp_sent_at + dt.timedelta(seconds=policy.otp_resend_seconds)
        if now < next_allowed:
            wait = max(1, int((next_allowed - now).total_seconds() + 0.999))
            raise DomainError(
                "OTP_THROTTLED",
                f"a code was sent less than {policy.otp_resend_seconds} s ago; retry in {wait} s",
                retry_after=wait,
                headers={"Retry-After": str(wait)},
            )
    code = f"{secrets.randbelow(1_000_000):06d}"
    state.otp_hash = _otp_mac(ctx, line, code)
    state.otp_sent_at = now
    state.otp_expires_at = now + dt.timedelta(seconds=policy.otp_ttl_seconds)
    minutes = max(1, policy.otp_ttl_seconds // 60)
    send_sms(
        ctx.session,
        line.msisdn,
        f"【销户服务】您的验证码为{code}，{minutes}分钟内有效。"
        "请勿将验证码告知任何人，工作人员不会向您索取。",
        "otp",
        at=now,
        province_code=line.province_code,
    )
    line_event(
        ctx,
        "auth.otp_sent",
        line.msisdn,
        line.province_code,
        {"expires_at": state.otp_expires_at.isoformat()},
        at=now,
    )
    ctx.session.flush()
    return policy.otp_ttl_seconds


def _failure_reason(
    ctx: Context, line: Line, state: SignInState, otp: str, password: str
) -> str | None:
    """Why these factors do not sign in (for the audit log only; the answer stays generic).
    The caller has made sure a code is live."""
    if not hmac.compare_digest(state.otp_hash or "", _otp_mac(ctx, line, otp)):
        return "code_wrong"
    if not passwords.verify(ctx.settings.key, line.msisdn, line.service_password_hash, password):
        return "password_wrong"
    return None


def _live_code(state: SignInState, now: dt.datetime) -> bool:
    return (
        state.otp_hash is not None
        and state.otp_expires_at is not None
        and (now < state.otp_expires_at)
    )


def _not_requested(msisdn: str) -> DomainError:
    """A try without a live code: nothing to guess against, so nothing is counted. Counting it
    let anyone lock any number out of sign-in without ever holding its SIM."""
    return DomainError(
        "OTP_NOT_REQUESTED",
        f"no live code for {mask_msisdn(msisdn)}: request one (POST /api/v1/auth/otp) first",
    )


def record_failure(
    ctx: Context,
    line: Line,
    state: SignInState,
    policy: Values,
    reason: str,
    now: dt.datetime,
    factors: str = "the code or the service password",
) -> DomainError:
    state.failures += 1
    line_event(
        ctx,
        "auth.failed",
        line.msisdn,
        line.province_code,
        {"reason": reason, "failures": state.failures},
        at=now,
    )
    if state.failures >= policy.sign_in_max_failures:
        state.locked_until = now + dt.timedelta(minutes=policy.sign_in_lock_minutes)
        state.otp_hash = None  # a new code is needed after the lock-out
        state.otp_expires_at = None
        line_event(
            ctx,
            "auth.locked",
            line.msisdn,
            line.province_code,
            {"failures": state.failures, "locked_until": state.locked_until.isoformat()},
            at=now,
        )
        ctx.session.flush()
        return locked_error(state, now)
    ctx.session.flush()
    left = policy.sign_in_max_failures - state.failures
    return DomainError(
        "VERIFICATION_FAILED",
        f"{factors} is wrong; {left} attempt(s) left before a lock-out",
        attempts_left=left,
        keep_writes=True,
    )


def sign_in(ctx: Context, msisdn: str, otp: str, service_password: str) -> IssuedToken:
    """Check both factors and issue a bearer token for this line only.

    Raises VERIFICATION_FAILED / VERIFICATION_LOCKED after recording the failure (flushed),
    with `keep_writes=True`: the unit of work commits the count and lock-out with the answer.
    Only a try against a live code counts; without one it is OTP_NOT_REQUESTED, not counted.
    """
    line = _signable_line(ctx, msisdn)
    if line is None:  # no code was sent to it: the same answer as a number with none asked
        raise _not_requested(msisdn)
    now = ctx.now()
    policy = ctx.policy_for(line.province_code)
    state = state_for(ctx, line)
    lift_expired_lock(state, now)
    if state.locked_until is not None:
        raise locked_error(state, now)
    if not _live_code(state, now):
        raise _not_requested(msisdn)
    reason = _failure_reason(ctx, line, state, otp, service_password)
    if reason is not None:
        raise record_failure(ctx, line, state, policy, reason, now)
    state.otp_hash = None  # one use
    state.otp_expires_at = None
    return signed_in(ctx, line, state, service_password, policy, "online")


def signed_in(
    ctx: Context, line: Line, state: SignInState, password: str, policy: Values, channel: str
) -> IssuedToken:
    """Both factors passed: the count starts afresh, an imported password hash is upgraded,
    and a token for this line is issued."""
    now = ctx.now()
    state.failures = 0
    stored = line.service_password_hash
    upgraded = stored is not None and passwords.needs_upgrade(stored)
    if upgraded:
        line.service_password_hash = passwords.hash_password(password)
        line.updated_at = now
    token = tokens.issue(ctx.settings.key, line.id, line.msisdn, now, policy.token_ttl_seconds)
    line_event(
        ctx,
        "auth.signed_in",
        line.msisdn,
        line.province_code,
        {"channel": channel, "password_rehashed": upgraded},
        at=now,
    )
    ctx.session.flush()
    return IssuedToken(
        access_token=token,
        expires_in=policy.token_ttl_seconds,
        expires_at=now + dt.timedelta(seconds=policy.token_ttl_seconds),
        msisdn=line.msisdn,
        line_id=line.id,
    )


def id_matches(ctx: Context, owner: Owner, id_number: str) -> bool:
    """The owner's full ID number, compared through the keyed blind index of its normalised
    form, so the clear number is never decrypted; a malformed number is simply a mismatch."""
    try:
        normalised = normalise_document(owner.id_type, id_number)
    except IdProblem:
        return False
    return hmac.compare_digest(ctx.cipher.blind_index(owner.id_type, normalised), owner.id_index)


def confirm_real_name(
    ctx: Context,
    line: Line,
    name: str,
    id_number: str,
    *,
    id_type: str | None = None,
    field: str = "real_name.id_number",
) -> None:
    """The owner's exact name and full ID number, before the final cancellation step (and at
    a store's counter, the owner's document: `id_type` must then be the owner's too, and a
    malformed number is named as `field`).

    Mismatches are counted per line (the caller holds its lock), `real_name_max_mismatches`
    in a window of `real_name_window_minutes` from the first; then REAL_NAME_LOCKED (429)
    until the window ends, so a name and ID number cannot be guessed at. The count is
    evidence, kept with the refusal (`keep_writes`)."""
    owner = ctx.session.get(Owner, line.owner_id)
    if owner is None:  # pragma: no cover - a foreign key guarantees it
        raise DomainError("REAL_NAME_MISMATCH", "the line has no registered owner")
    now = ctx.now()
    policy = ctx.policy_for(line.province_code)
    state = state_for(ctx, line)
    window = state.real_name_window_until
    if window is not None and now >= window:
        state.real_name_failures, state.real_name_window_until = 0, None
    elif window is not None and state.real_name_failures >= policy.real_name_max_mismatches:
        raise _real_name_locked(window, now)
    try:  # a malformed number (a wrong check character) is nobody's: named, not counted
        normalise_document(owner.id_type, id_number)
    except IdProblem as exc:
        raise DomainError(
            "VALIDATION_FAILED",
            f"{field}: {exc}",
            errors=[{"field": field, "reason": str(exc)}],
        ) from None
    number_ok = (id_type is None or id_type == owner.id_type) and id_matches(ctx, owner, id_number)
    name_ok = hmac.compare_digest(name.strip().encode(), owner.name.strip().encode())
    if number_ok and name_ok:
        state.real_name_failures, state.real_name_window_until = 0, None
        return
    if state.real_name_window_until is None:
        state.real_name_window_until = now + dt.timedelta(minutes=policy.real_name_window_minutes)
    state.real_name_failures += 1
    left = policy.real_name_max_mismatches - state.real_name_failures
    line_event(
        ctx,
        "cancellation.real_name_mismatch",
        line.msisdn,
        line.province_code,
        {"failures": state.real_name_failures, "name_ok": name_ok, "number_ok": number_ok},
        at=now,
    )
    ctx.session.flush()
    if left <= 0:
        raise _real_name_locked(state.real_name_window_until, now)
    raise DomainError(
        "REAL_NAME_MISMATCH",
        f"the name or ID number given does not match the owner of {mask_msisdn(line.msisdn)}; "
        f"{left} attempt(s) left",
        attempts_left=left,
        keep_writes=True,
    )


def _real_name_locked(until: dt.datetime, now: dt.datetime) -> DomainError:
    wait = max(1, math.ceil((until - now).total_seconds()))
    return DomainError(
        "REAL_NAME_LOCKED",
        f"too many wrong names or ID numbers for this number; retry after {until.isoformat()}",
        retry_after=wait,
        headers={"Retry-After": str(wait)},
        keep_writes=True,
    )
