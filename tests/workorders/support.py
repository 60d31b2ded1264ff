"""Helpers of the work-order tests: the back offices of two provinces and an admin, and a
fraud-stopped Beijing line brought to a Beijing counter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.counter.support import Counter, bearer, documents, open_desk
from tests.factories import add_staff, line_record, owner, staff_token
from xiaohu.runtime import Context

CST = dt.timezone(dt.timedelta(hours=8))
OPENED = dt.datetime(2026, 9, 30, 10, 0, tzinfo=CST)  # the day before National Day
DUE = "2026-10-09T16:00:00Z"  # 24:00 on 9 October: 1-7 October off, 8 and 9 working
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


@dataclass
class Offices:
    clerk: dict[str, str]  # Beijing counter
    bj: dict[str, str]  # Beijing back office
    gd: dict[str, str]  # Guangdong back office
    admin: dict[str, str]


def open_offices(ctx: Context) -> Offices:
    desk = open_desk(ctx)
    bj = add_staff(ctx, login="bj.review", role="backoffice", store_code=None)
    gd = add_staff(ctx, login="gd.review", role="backoffice", province_code="44", store_code=None)
    admin = add_staff(ctx, login="root.admin", role="admin", store_code=None)
    offices = Offices(
        clerk=desk.clerk,
        bj=bearer(staff_token(ctx, bj, ttl_seconds=30 * 86400)),
        gd=bearer(staff_token(ctx, gd, ttl_seconds=30 * 86400)),
        admin=bearer(staff_token(ctx, admin, ttl_seconds=30 * 86400)),
    )
    ctx.session.commit()
    return offices


def fraud_stopped(**kw: Any) -> list[dict[str, Any]]:
    """A fraud-stopped Beijing line with 200 yuan, and the owner's other active line (where
    the SMS about a cancelled number goes)."""
    person = owner()
    stopped = line_record(
        province="11", status="fraud_stop", owner=person, plan=PLAN_30,
        balance={"cash_fen": 20000, "gift_fen": 0}, **kw,
    )  # fmt: skip
    other = line_record(province="11", owner=person, plan=PLAN_30)
    return [stopped, other]


def request_review(
    client: TestClient, clerk: dict[str, str], rec: dict[str, Any], **overrides: Any
) -> Any:
    """The counter's check and cancellation of `rec` with an `original` refund."""
    at = Counter(client, clerk)
    check = at.check(rec).json()
    assert check["eligible"] is True and check["review_required"] is True, check
    body = {"refund_route": {"kind": "original"}, **overrides}
    return at.cancel(rec, check, **body)


def decide(
    client: TestClient, auth: dict[str, str], order_id: str, decision: str, reason: str,
    key: str | None = None,
) -> Any:  # fmt: skip
    headers = dict(auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/workorders/{order_id}/decision",
        json={"decision": decision, "reason": reason},
        headers=headers,
    )


def sms(client: TestClient, msisdn: str) -> list[str]:
    r = client.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
    return [m["text"] for m in r.json()["messages"]]


__all__ = ["documents"]
