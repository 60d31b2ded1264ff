"""Helpers of the store channel's tests: a store with its clerk, and the documents of a visit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.cancellation.support import Api
from tests.factories import add_staff, add_store, line_record, new_resident_id, staff_token
from xiaohu.runtime import Context

STORE = "11-BJ-0001"  # Beijing, own flagship
PARTNER = "11-BJ-0900"  # Beijing, a partner hall
OTHER_PROVINCE = "44-GZ-0001"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


def beijing(**kw: Any) -> dict[str, Any]:
    """A Beijing line's record on the 30-yuan plan with 200 yuan of cash balance."""
    values: dict[str, Any] = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    values.update(kw)
    return line_record(province="11", **values)


def person(name: str = "李四", id_number: str | None = None) -> dict[str, str]:
    return {"id_type": "resident_id", "id_number": id_number or new_resident_id(), "name": name}


def documents(
    record: dict[str, Any], *, agent: dict[str, str] | None = None, letter: str | None = None
) -> dict[str, Any]:
    """The documents for a line's import record: its owner's ID, and a proxy's if given."""
    docs: dict[str, Any] = {"owner": dict(record["owner"])}
    if agent is not None:
        docs["agent"] = agent
    if letter is not None:
        docs["authorization_letter"] = {"reference": letter}
    return docs


@dataclass
class Desk:
    """The stores and staff of a test, with their bearer headers."""

    clerk: dict[str, str]  # a clerk of STORE (Beijing, 11)
    partner_clerk: dict[str, str]  # a clerk of the partner hall (Beijing)
    gz_clerk: dict[str, str]  # a clerk of Guangzhou (44)
    agent: dict[str, str]  # a hotline agent (11)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_desk(ctx: Context) -> Desk:
    """Three stores and their staff, committed so that the app's sessions see them."""
    add_store(ctx, code=STORE)
    add_store(ctx, code=PARTNER, name="北京某合作厅", kind="partner")
    add_store(ctx, code="11-BJ-0002", name="北京朝阳营业厅", kind="own_standard")
    add_store(ctx, code=OTHER_PROVINCE, name="广州天河营业厅", province_code="44", city="广州")
    clerk = add_staff(ctx, login="bj.wang", store_code=STORE)
    partner = add_staff(ctx, login="bj.partner", store_code=PARTNER)
    gz = add_staff(ctx, login="gz.li", province_code="44", store_code=OTHER_PROVINCE)
    agent = add_staff(ctx, login="hl.zhao", role="hotline_agent", store_code=None)
    desk = Desk(
        clerk=bearer(staff_token(ctx, clerk)),
        partner_clerk=bearer(staff_token(ctx, partner)),
        gz_clerk=bearer(staff_token(ctx, gz)),
        agent=bearer(staff_token(ctx, agent)),
    )
    ctx.session.commit()
    return desk


class Counter:
    """A clerk's session at the counter over HTTP."""

    def __init__(self, client: TestClient, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def check(self, record: dict[str, Any], docs: dict[str, Any] | None = None) -> Any:
        body = {"msisdn": record["msisdn"], "documents": docs or documents(record)}
        return self.client.post("/api/v1/store/cancellation-checks", json=body, headers=self.auth)

    def cancel(
        self,
        record: dict[str, Any],
        check: dict[str, Any],
        docs: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        **overrides: Any,
    ) -> Any:
        body: dict[str, Any] = {
            "msisdn": record["msisdn"],
            "quote_id": check["quote"]["quote_id"],
            "documents": docs or documents(record),
            "refund_route": {"kind": "cash"},
            "acknowledged_warnings": [w["code"] for w in check["warnings"]],
        }
        body.update(overrides)
        headers = dict(self.auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post("/api/v1/store/cancellations", json=body, headers=headers)

    def pay(self, msisdn: str, amount_fen: int, method: str = "cash") -> Any:
        body = {"msisdn": msisdn, "amount_fen": amount_fen, "method": method}
        return self.client.post("/api/v1/store/payments", json=body, headers=self.auth)

    def drawer(self, date: str = "2026-11-24", **params: str) -> Any:
        return self.client.get(
            "/api/v1/store/drawer", params={"date": date, **params}, headers=self.auth
        )


__all__ = ["Api", "Counter", "Desk", "documents", "open_desk", "person"]
