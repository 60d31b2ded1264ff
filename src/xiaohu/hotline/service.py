"""Opening a hotline session: the agent types what the caller reads back.

The factors are the online ones (the SMS code proves the SIM is in the caller's hand, the
service password is known to the owner) and are checked by the same code, with the same
failure count and lock-out (`identity.service.verify_factors`): a line cannot be guessed at
five times online and five more over the phone. The token is a line token naming the agent
(`principals.issue_hotline`), as short-lived as the subscriber's own, so the online endpoints
serve the call unchanged and the audit log names `hotline_agent:<login>`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from xiaohu import principals
from xiaohu.audit.service import line_event
from xiaohu.hotline.schemas import HotlineSessionIn, HotlineSessionOut
from xiaohu.identity.service import verify_factors
from xiaohu.lines.models import Line
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.staff.deps import require_province


def _home_province(ctx: Context, msisdn: str) -> str | None:
    """The line's home province, read before anything is locked or counted."""
    return ctx.session.scalar(select(Line.province_code).where(Line.msisdn == msisdn))


def open_session(ctx: Context, agent: StaffClaims, body: HotlineSessionIn) -> HotlineSessionOut:
    """A line token for the caller's line, naming the agent. Another province's line is
    refused (403) before any factor is tried, so an agent cannot spend its attempts."""
    home = _home_province(ctx, body.msisdn)
    if home is not None:
        require_province(agent, home)
    verified = verify_factors(ctx, body.msisdn, body.otp, body.service_password)
    line, ttl = verified.line, verified.policy.token_ttl_seconds
    now = ctx.now()
    token = principals.issue_hotline(
        ctx.settings.key,
        line.id,
        line.msisdn,
        agent_id=agent.staff_id,
        agent_login=agent.login,
        now=now,
        ttl_seconds=ttl,
    )
    line_event(
        ctx,
        "hotline.session_opened",
        line.msisdn,
        line.province_code,
        {
            "agent": agent.login,
            "expires_at": (now + dt.timedelta(seconds=ttl)).isoformat(),
            "password_rehashed": verified.password_rehashed,
        },
        at=now,
    )
    ctx.session.flush()
    return HotlineSessionOut(access_token=token, expires_in=ttl, msisdn=line.msisdn)
