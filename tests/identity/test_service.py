"""Sign-in and real-name confirmation against a real database, with a frozen clock."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from tests.factories import SERVICE_PASSWORD, line_record, load, resident_id
from xiaohu import principals as tokens
from xiaohu.audit.models import AuditEvent
from xiaohu.identity import passwords, service
from xiaohu.identity.models import SignInState
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import Line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Context

MSISDN = "13800138000"


def last_code(ctx: Context, msisdn: str = MSISDN) -> str:
    msg = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "sms").order_by(OutboxMessage.id.desc())
    ).first()
    assert msg is not None and msg.payload["to"] == msisdn
    found = re.search(r"\d{6}", str(msg.payload["text"]))
    assert found is not None
    return found.group(0)


def actions(ctx: Context, msisdn: str = MSISDN) -> list[str]:
    return list(
        ctx.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject == f"line:{msisdn}")
            .order_by(AuditEvent.id)
        )
    )


def state(ctx: Context, line: Line) -> SignInState:
    s = ctx.session.get(SignInState, line.id)
    assert s is not None
    return s


@pytest.fixture()
def line(ctx: Context) -> Line:
    (loaded,) = load(ctx, line_record(msisdn=MSISDN))
    return loaded


def wrong(password: str) -> str:
    return "000000" if password != "000000" else "111111"


def test_code_is_sent_by_sms_in_chinese_and_stored_only_hashed(ctx: Context, line: Line) -> None:
    assert service.request_otp(ctx, MSISDN) == 300
    msg = ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "sms")).one()
    text = str(msg.payload["text"])
    code = last_code(ctx)
    assert "5分钟内有效" in text and "请勿" in text
    assert msg.payload["kind"] == "otp"
    s = state(ctx, line)
    assert s.otp_hash is not None and code not in s.otp_hash
    assert s.otp_expires_at == ctx.now() + dt.timedelta(minutes=5)
    assert actions(ctx) == ["auth.otp_sent"]
    assert code not in str(ctx.session.scalars(select(AuditEvent.data)).all())


def test_sign_in_issues_a_token_for_this_line(ctx: Context, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    issued = service.sign_in(ctx, MSISDN, last_code(ctx), SERVICE_PASSWORD)
    assert (issued.token_type, issued.expires_in) == ("bearer", 1800)
    claims = tokens.verify(ctx.settings.key, issued.access_token, ctx.now())
    assert claims is not None and (claims.line_id, claims.msisdn) == (line.id, MSISDN)
    assert actions(ctx) == ["auth.otp_sent", "auth.signed_in"]


def test_unknown_or_cancelled_line_gets_no_code(ctx: Context, line: Line) -> None:
    with pytest.raises(DomainError) as err:
        service.request_otp(ctx, "13900000000")
    assert err.value.code == "LINE_NOT_FOUND"
    line.status = "cancelled"
    ctx.session.flush()
    with pytest.raises(DomainError) as err:
        service.request_otp(ctx, MSISDN)
    assert err.value.code == "LINE_CANCELLED"  # a cancelled number receives no SMS
    assert ctx.session.scalars(select(OutboxMessage)).all() == []


def test_sign_in_for_unknown_line_looks_like_one_with_no_code(ctx: Context, line: Line) -> None:
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, "13900000000", "123456", SERVICE_PASSWORD)
    assert err.value.code == "OTP_NOT_REQUESTED"


def test_resend_is_throttled_for_a_minute(ctx: Context, clock: FrozenClock, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    clock.advance(dt.timedelta(seconds=45))
    with pytest.raises(DomainError) as err:
        service.request_otp(ctx, MSISDN)
    assert err.value.code == "OTP_THROTTLED"
    assert err.value.extra["retry_after"] == 15
    assert err.value.headers["Retry-After"] == "15"
    clock.advance(dt.timedelta(seconds=15))
    assert service.request_otp(ctx, MSISDN) == 300


def test_a_new_code_replaces_the_old_one(ctx: Context, clock: FrozenClock, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    first = last_code(ctx)
    clock.advance(dt.timedelta(seconds=61))
    service.request_otp(ctx, MSISDN)
    second = last_code(ctx)
    if first != second:  # one in a million they coincide
        with pytest.raises(DomainError):
            service.sign_in(ctx, MSISDN, first, SERVICE_PASSWORD)
    assert service.sign_in(ctx, MSISDN, second, SERVICE_PASSWORD).access_token


def test_code_expires_after_five_minutes(ctx: Context, clock: FrozenClock, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    code = last_code(ctx)
    clock.advance(dt.timedelta(seconds=300))
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, MSISDN, code, SERVICE_PASSWORD)
    assert err.value.code == "OTP_NOT_REQUESTED"  # an expired code is no live code: not counted
    assert state(ctx, line).failures == 0


def test_code_is_single_use(ctx: Context, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    code = last_code(ctx)
    service.sign_in(ctx, MSISDN, code, SERVICE_PASSWORD)
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, MSISDN, code, SERVICE_PASSWORD)
    assert err.value.code == "OTP_NOT_REQUESTED"


def test_no_code_requested_fails_and_is_not_counted(ctx: Context, line: Line) -> None:
    for _ in range(10):  # more than the lock-out's five
        with pytest.raises(DomainError) as err:
            service.sign_in(ctx, MSISDN, "123456", SERVICE_PASSWORD)
        assert err.value.code == "OTP_NOT_REQUESTED"
    assert state(ctx, line).failures == 0
    assert state(ctx, line).locked_until is None
    service.request_otp(ctx, MSISDN)
    assert service.sign_in(ctx, MSISDN, last_code(ctx), SERVICE_PASSWORD).access_token


def test_wrong_password_with_right_code_fails_and_counts(ctx: Context, line: Line) -> None:
    service.request_otp(ctx, MSISDN)
    code = last_code(ctx)
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, MSISDN, code, wrong(SERVICE_PASSWORD))
    assert err.value.code == "VERIFICATION_FAILED"
    assert err.value.extra["attempts_left"] == 4
    assert state(ctx, line).failures == 1
    # the code survives a mistyped password
    assert service.sign_in(ctx, MSISDN, code, SERVICE_PASSWORD).access_token
    assert state(ctx, line).failures == 0


def test_five_failures_lock_for_thirty_minutes(
    ctx: Context, clock: FrozenClock, line: Line
) -> None:
    service.request_otp(ctx, MSISDN)
    code = last_code(ctx)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(DomainError) as err:
            service.sign_in(ctx, MSISDN, bad, SERVICE_PASSWORD)
        assert err.value.code == "VERIFICATION_FAILED"
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, MSISDN, bad, SERVICE_PASSWORD)
    assert err.value.code == "VERIFICATION_LOCKED"
    until = ctx.now() + dt.timedelta(minutes=30)
    assert err.value.extra["locked_until"] == until
    assert state(ctx, line).locked_until == until
    # locked: even the right factors and a new code are refused
    with pytest.raises(DomainError) as err:
        service.sign_in(ctx, MSISDN, code, SERVICE_PASSWORD)
    assert err.value.code == "VERIFICATION_LOCKED"
    with pytest.raises(DomainError) as err:
        service.request_otp(ctx, MSISDN)
    assert err.value.code == "VERIFICATION_LOCKED"
    assert actions(ctx).count("auth.failed") == 5
    assert actions(ctx).count("auth.locked") == 1
    # 30 minutes later: unlocked, counter reset, a new code works
    clock.advance(dt.timedelta(minutes=30))
    service.request_otp(ctx, MSISDN)
    assert state(ctx, line).failures == 0
    assert service.sign_in(ctx, MSISDN, last_code(ctx), SERVICE_PASSWORD).access_token


def test_imported_password_is_upgraded_to_argon2(ctx: Context, line: Line) -> None:
    assert line.service_password_hash is not None
    assert line.service_password_hash.startswith("hmac$")
    service.request_otp(ctx, MSISDN)
    service.sign_in(ctx, MSISDN, last_code(ctx), SERVICE_PASSWORD)
    ctx.session.refresh(line)
    stored = line.service_password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    assert passwords.verify(ctx.settings.key, MSISDN, stored, SERVICE_PASSWORD)
    signed_in = ctx.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.signed_in")
    ).one()
    assert signed_in.data["password_rehashed"] is True


def test_real_name_matches_exact_name_and_full_number(ctx: Context) -> None:
    number = resident_id()
    (line,) = load(
        ctx,
        line_record(
            msisdn=MSISDN, owner={"name": "张三", "id_type": "resident_id", "id_number": number}
        ),
    )
    service.confirm_real_name(ctx, line, "张三", number)
    service.confirm_real_name(ctx, line, " 张三 ", number.lower())  # normalised, trimmed


@pytest.mark.parametrize("case", ["name", "number"])
def test_real_name_mismatch(ctx: Context, case: str) -> None:
    number = resident_id()
    (line,) = load(
        ctx,
        line_record(
            msisdn=MSISDN, owner={"name": "张三", "id_type": "resident_id", "id_number": number}
        ),
    )
    other = resident_id()
    assert other != number
    name, given = {
        "name": ("张四", number),
        "number": ("张三", other),
    }[case]
    with pytest.raises(DomainError) as err:
        service.confirm_real_name(ctx, line, name, given)
    assert err.value.code == "REAL_NAME_MISMATCH"
    assert err.value.status == 403


@pytest.mark.parametrize("case", ["garbage", "masked", "check_char"])
def test_a_malformed_id_number_is_named_not_counted(ctx: Context, case: str) -> None:
    """A number that is nobody's ID (malformed, masked, a wrong check character) says what is
    wrong with it, on its field, and spends none of the line's attempts."""
    number = resident_id()
    (line,) = load(
        ctx,
        line_record(
            msisdn=MSISDN, owner={"name": "张三", "id_type": "resident_id", "id_number": number}
        ),
    )
    given = {
        "garbage": "not-an-id",
        "masked": number[:6] + "********" + number[-4:],
        "check_char": number[:17] + ("1" if number[17] != "1" else "2"),
    }[case]
    for _ in range(8):  # more than the attempts allowed: none is counted
        with pytest.raises(DomainError) as err:
            service.confirm_real_name(ctx, line, "张三", given)
        assert (err.value.code, err.value.status) == ("VALIDATION_FAILED", 422)
        assert err.value.errors[0]["field"] == "real_name.id_number"
    service.confirm_real_name(ctx, line, "张三", number)
