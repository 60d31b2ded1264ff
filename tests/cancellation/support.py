"""Helpers shared by the cancellation, cycle, scenario and property tests."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import SERVICE_PASSWORD
from xiaohu import principals as tokens
from xiaohu.audit.service import verify
from xiaohu.cancellation.schemas import CancellationRequest, CheckOut
from xiaohu.ledger.service import line_balance, trial_balance
from xiaohu.lines.models import Line
from xiaohu.runtime import Runtime


def request_for(record: dict[str, Any], result: CheckOut, **overrides: Any) -> CancellationRequest:
    """A complete cancellation request for a checked line: real name from the import record,
    every warning acknowledged, refund to the original route."""
    assert result.quote is not None
    values: dict[str, Any] = {
        "msisdn": record["msisdn"],
        "quote_id": result.quote.quote_id,
        "real_name": {"name": record["owner"]["name"], "id_number": record["owner"]["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w.code for w in result.warnings],
    }
    values.update(overrides)
    return CancellationRequest.model_validate(values)


def body_for(record: dict[str, Any], check: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The JSON body of POST /api/v1/cancellations for a check answer."""
    values: dict[str, Any] = {
        "msisdn": record["msisdn"],
        "quote_id": check["quote"]["quote_id"],
        "real_name": {"name": record["owner"]["name"], "id_number": record["owner"]["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w["code"] for w in check["warnings"]],
    }
    values.update(overrides)
    return values


def assert_books_consistent(session: Session) -> None:
    """Trial balance zero, audit chains intact, every line's balances equal its sub-ledgers."""
    tb = trial_balance(session)
    assert tb["balanced"], tb
    assert verify(session)["intact"]
    for line in session.scalars(select(Line).execution_options(populate_existing=True)):
        p = line.province_code
        assert line.cash_fen == line_balance(session, f"subscriber_cash:{p}", line.id), line.msisdn
        assert line.gift_fen == line_balance(session, f"subscriber_gift:{p}", line.id), line.msisdn


# --- over HTTP ---------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


class Api:
    """A subscriber's session against the sandbox: import, sign in by SMS, check, cancel."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def set_clock(self, at: dt.datetime) -> None:
        r = self.client.put("/api/v1/sandbox/clock", json={"now": at.isoformat()})
        assert r.status_code == 200, r.text

    def import_lines(self, *records: dict[str, Any]) -> None:
        r = self.client.post("/api/v1/sandbox/lines", json=list(records))
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == len(records)

    def sign_in(self, msisdn: str) -> dict[str, str]:
        """Ask a code, read it from the sandbox SMS outbox, trade it with the password."""
        r = self.client.post("/api/v1/auth/otp", json={"msisdn": msisdn})
        assert r.status_code == 202, r.text
        sms = self.client.get("/api/v1/sandbox/sms", params={"msisdn": msisdn}).json()
        found = re.search(r"(\d{6})", sms["messages"][0]["text"])
        assert found is not None
        r = self.client.post(
            "/api/v1/auth/token",
            json={"msisdn": msisdn, "otp": found.group(1), "service_password": SERVICE_PASSWORD},
        )
        assert r.status_code == 200, r.text
        self.tokens[msisdn] = r.json()["access_token"]
        return self.auth(msisdn)

    def sign_in_by_reference(self, record: dict[str, Any], reference: str) -> dict[str, str]:
        """A cancelled number (no SMS): the reference, the password and the ID number."""
        msisdn = record["msisdn"]
        body = {
            "msisdn": msisdn,
            "reference": reference,
            "service_password": SERVICE_PASSWORD,
            "id_number": record["owner"]["id_number"],
        }
        r = self.client.post("/api/v1/auth/token", json=body)
        assert r.status_code == 200, r.text
        self.tokens[msisdn] = r.json()["access_token"]
        return self.auth(msisdn)

    def auth(self, msisdn: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[msisdn]}"}

    def check(self, msisdn: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/lines/{msisdn}/cancellation-check", headers=self.auth(msisdn))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def cancel(self, record: dict[str, Any], check: dict[str, Any], key: str | None = None,
               **overrides: Any) -> Any:  # fmt: skip
        headers = self.auth(record["msisdn"])
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(
            "/api/v1/cancellations", json=body_for(record, check, **overrides), headers=headers
        )

    def books(self) -> None:
        """The operator's view after a story: ledger balanced, audit chain intact."""
        tb = self.client.get("/api/v1/admin/ledger/trial-balance").json()
        assert tb["balanced"] is True, tb
        audit = self.client.get("/api/v1/admin/audit/verify").json()
        assert audit["intact"] is True, audit


def checked_api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    """For an `api` fixture: the client at T0; afterwards the books must be consistent."""
    a = Api(client)
    a.set_clock(T0)
    yield a
    a.books()
    with runtime.sessions() as s:
        assert_books_consistent(s)


def mint(api: Api, runtime: Runtime, msisdn: str, now: dt.datetime) -> None:
    """A token for a line that cannot sign in by SMS (cancelled, or a lost SIM), as a later
    visit would hold one."""
    with runtime.sessions() as s:
        line_id = s.scalars(select(Line.id).where(Line.msisdn == msisdn)).one()
    api.tokens[msisdn] = tokens.issue(runtime.settings.key, line_id, msisdn, now, 1800)
