"""Signing in to a cancelled number, which receives no SMS: the cancellation's reference, the
service password and the owner's ID number take the place of the code (API.md).

For a cancelled line only, and only with the reference of its latest cancellation: that is what
the subscriber holds (the done page, the receipt) to reverse it within the window or to read
the settlement once the cycle closed. Failures count towards the same lock-out as a wrong code.
"""

from __future__ import annotations

import hmac

from xiaohu.cancellation.models import latest_cancellation
from xiaohu.cancellation.rules import CancellationStatus
from xiaohu.identity import passwords
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import (
    IssuedToken,
    id_matches,
    lift_expired_lock,
    locked_error,
    record_failure,
    signed_in,
    state_for,
)
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line, LineStatus, Owner
from xiaohu.lines.service import lock_line
from xiaohu.runtime import Context

FACTORS = "the reference, the service password or the ID number"


def _cancelled_line(ctx: Context, msisdn: str) -> Line | None:
    try:
        line = lock_line(ctx.session, msisdn)
    except DomainError:
        return None
    return line if line.status == LineStatus.CANCELLED else None


def _latest_reference(ctx: Context, line: Line) -> str | None:
    latest = latest_cancellation(ctx.session, line.id)
    return (
        latest.reference
        if latest is not None and latest.status == CancellationStatus.CANCELLED
        else None
    )


def sign_in_by_reference(
    ctx: Context, msisdn: str, reference: str, service_password: str, id_number: str
) -> IssuedToken:
    """A line token for a cancelled line, from its cancellation's reference, the service
    password and the owner's ID number. A number that is not cancelled answers
    VERIFICATION_FAILED without counting (it signs in with a code); a wrong factor counts and
    locks as a wrong code does (`keep_writes`)."""
    line = _cancelled_line(ctx, msisdn)
    if line is None:
        raise DomainError(
            "VERIFICATION_FAILED",
            f"{mask_msisdn(msisdn)} is not a cancelled number: sign in with the SMS code",
        )
    now = ctx.now()
    policy = ctx.policy_for(line.province_code)
    state = state_for(ctx, line)
    lift_expired_lock(state, now)
    if state.locked_until is not None:
        raise locked_error(state, now)
    expected = _latest_reference(ctx, line) or ""
    owner = ctx.session.get(Owner, line.owner_id)
    reason = None
    if not hmac.compare_digest(reference.strip().upper().encode(), expected.encode()):
        reason = "reference_wrong"
    elif not passwords.verify(
        ctx.settings.key, line.msisdn, line.service_password_hash, service_password
    ):
        reason = "password_wrong"
    elif owner is None or not id_matches(ctx, owner, id_number):
        reason = "id_number_wrong"
    if reason is not None:
        raise record_failure(ctx, line, state, policy, reason, now, factors=FACTORS)
    return signed_in(ctx, line, state, service_password, policy, "reference")
