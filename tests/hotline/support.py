"""Staff for the hotline tests: members written through the test's runtime, so the app sees
them, with the tokens a sign-in would issue."""

from __future__ import annotations

import re

from tests.cancellation.support import T0, Api
from tests.factories import add_staff, staff_token
from xiaohu.kit.clock import FrozenClock
from xiaohu.runtime import Context, Runtime


def staff(
    runtime: Runtime,
    *,
    login: str,
    role: str = "hotline_agent",
    province: str = "11",
    store_code: str | None = None,
) -> str:
    """A member of staff (committed to the test's outer transaction) and their token."""
    with runtime.sessions() as s:
        ctx = Context(runtime, s, FrozenClock(T0), actor="test")
        if store_code is not None:
            from tests.factories import add_store

            add_store(ctx, code=store_code, province_code=province)
        member = add_staff(
            ctx, login=login, role=role, province_code=province, store_code=store_code
        )
        token = staff_token(ctx, member)
        s.commit()
    return token


def send_code(api: Api, msisdn: str) -> str:
    """The caller asks a code (`POST /auth/otp`) and reads it back from the SMS."""
    r = api.client.post("/api/v1/auth/otp", json={"msisdn": msisdn})
    assert r.status_code == 202, r.text
    sms = api.client.get("/api/v1/sandbox/sms", params={"msisdn": msisdn}).json()
    found = re.search(r"(\d{6})", sms["messages"][0]["text"])
    assert found is not None
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
