"""What a client does over HTTP, step by step: import a line, sign in, check, cancel."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import SERVICE_PASSWORD, line_record
from tests.served.harness import Served

NOW = "2026-11-24T10:00:00+08:00"


def add_line(server: Served, **overrides: Any) -> dict[str, Any]:
    """Import one line through the sandbox endpoint and return its record."""
    record = line_record(**overrides)
    r = server.post("/api/v1/sandbox/lines", [record])
    assert r.status_code == 200, r.text
    return record


def latest_code(server: Served, msisdn: str) -> str | None:
    """The newest one-time code in the sandbox SMS outbox, read once (no waiting)."""
    r = server.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
    assert r.status_code == 200, r.text
    for message in r.json()["messages"]:  # newest first
        found = re.search(r"\d{6}", message["text"])
        if message["kind"] == "otp" and found:
            return found.group(0)
    return None


def sign_in(server: Served, msisdn: str, password: str = SERVICE_PASSWORD) -> str:
    """The SMS code, read right after the 202 (it must be there), then a token."""
    r = server.post("/api/v1/auth/otp", {"msisdn": msisdn})
    assert r.status_code == 202, r.text
    code = latest_code(server, msisdn)
    assert code is not None, "the code was not in the outbox when the 202 came back"
    r = server.post(
        "/api/v1/auth/token", {"msisdn": msisdn, "otp": code, "service_password": password}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def check(server: Served, msisdn: str, token: str) -> dict[str, Any]:
    r = server.get(f"/api/v1/lines/{msisdn}/cancellation-check", token=token)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def cancel(
    server: Served, record: dict[str, Any], token: str, quote: dict[str, Any], **extra: Any
) -> Any:
    body = {
        "msisdn": record["msisdn"],
        "quote_id": quote["quote"]["quote_id"],
        "real_name": {"name": record["owner"]["name"], "id_number": record["owner"]["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [w["code"] for w in quote["warnings"]],
        **extra,
    }
    return server.post("/api/v1/cancellations", body, token=token)
