"""Every endpoint of API.md Part 1, driven over HTTP on the served process, each state change
read back by the next GET, and the error shapes of a few refusals. Then a production-mode
server: no sandbox, healthy."""

from __future__ import annotations

from typing import Any

from tests.factories import SERVICE_PASSWORD, line_record, owner
from tests.served.flows import NOW, add_line, cancel, check, latest_code
from tests.served.harness import Served, serve

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert set(body) >= PROBLEM_FIELDS and body["code"] == code, body
    return body


def blockers(server: Served, msisdn: str, token: str) -> set[str]:
    return {b["code"] for b in check(server, msisdn, token)["blockers"]}


def test_every_endpoint_over_http(server: Served) -> None:
    # sandbox: clock
    assert server.put("/api/v1/sandbox/clock", {"now": NOW}).status_code == 200
    assert server.get("/api/v1/sandbox/clock").json()["now"].startswith("2026-11-24T")
    assert server.delete("/api/v1/sandbox/clock").status_code == 200
    assert not server.get("/api/v1/sandbox/clock").json()["now"].startswith("2026-11-24T10")
    assert server.put("/api/v1/sandbox/clock", {"now": NOW}).json()["now"].startswith("2026-11")
    audit_before = server.get("/api/v1/admin/audit/verify").json()["events"]

    # sandbox: import, a line with every blocker, another line of the same owner, a member
    me = owner()
    busy = line_record(
        owner=me,
        balance={"cash_fen": 200000, "gift_fen": 0},
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
        contracts=[
            {
                "id": "C-1",
                "kind": "handset",
                "starts_on": "2025-01-01",
                "ends_on": "2027-12-31",
                "handset_list_price_fen": 599900,
                "handset_promo_price_fen": 299900,
                "gift_prestore_remaining_fen": 0,
            }
        ],
        bundle={"id": "BB-9", "broadband_account": "01099990000", "role": "anchor"},
        family={"group_id": "F-9", "role": "primary"},
        pending_orders=[{"id": "O-9", "kind": "plan_change"}],
    )
    member = line_record(owner=owner(), family={"group_id": "F-9", "role": "member"})
    r = server.post("/api/v1/sandbox/lines", [busy, member])
    assert r.status_code == 200 and r.json()["imported"] == 2, r.text
    msisdn = busy["msisdn"]

    # sign-in: otp (read back in the SMS outbox), token
    assert server.post("/api/v1/auth/otp", {"msisdn": msisdn}).status_code == 202
    code = latest_code(server, msisdn)
    assert code is not None
    r = server.post(
        "/api/v1/auth/token",
        {"msisdn": msisdn, "otp": code, "service_password": SERVICE_PASSWORD},
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]

    line = server.get(f"/api/v1/lines/{msisdn}", token=token).json()
    assert line["msisdn"] == msisdn and line["arrears_fen"] == 3800
    assert blockers(server, msisdn, token) >= {
        "ARREARS",
        "CONTRACT_ACTIVE",
        "BROADBAND_BOUND",
        "FAMILY_PRIMARY",
        "PENDING_ORDER",
    }

    # remedies, each read back
    r = server.post(f"/api/v1/lines/{msisdn}/payments", {"amount_fen": 3800}, token=token)
    assert r.status_code == 201, r.text
    assert server.get(f"/api/v1/lines/{msisdn}", token=token).json()["arrears_fen"] == 0
    r = server.post(f"/api/v1/lines/{msisdn}/contracts/C-1/early-termination", token=token)
    assert r.status_code == 200 and r.json()["contract_id"] == "C-1", r.text
    assert "CONTRACT_ACTIVE" not in blockers(server, msisdn, token)
    r = server.post(
        f"/api/v1/lines/{msisdn}/bundle/release", {"action": "cancel_broadband"}, token=token
    )
    assert r.status_code == 200, r.text
    assert "BROADBAND_BOUND" not in blockers(server, msisdn, token)
    r = server.post(
        f"/api/v1/lines/{msisdn}/family/release", {"action": "remove_members"}, token=token
    )
    assert r.status_code == 200, r.text
    assert "FAMILY_PRIMARY" not in blockers(server, msisdn, token)
    r = server.post(f"/api/v1/lines/{msisdn}/orders/O-9/cancel", token=token)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    quote = check(server, msisdn, token)
    for blocker in quote["blockers"]:  # the penalty came out of the balance: the final bill
        assert blocker["code"] == "ARREARS", quote["blockers"]
        paid = {"amount_fen": blocker["amount_fen"]}
        assert server.post(blocker["remedy"]["href"], paid, token=token).status_code == 201
        quote = check(server, msisdn, token)
    assert quote["eligible"], quote["blockers"]

    # refusals: their shapes
    problem(server.get(f"/api/v1/lines/{msisdn}"), 401, "UNAUTHENTICATED")
    problem(server.get(f"/api/v1/lines/{member['msisdn']}", token=token), 403, "FORBIDDEN")
    problem(server.post("/api/v1/auth/otp", {"msisdn": "123"}), 422, "VALIDATION_FAILED")
    wrong = dict(busy, owner=dict(busy["owner"], name="王五"))
    problem(cancel(server, wrong, token, quote), 403, "REAL_NAME_MISMATCH")

    # cancellation, read back; the receipt
    r = cancel(server, busy, token, quote)
    assert r.status_code == 201, r.text
    done = r.json()
    got = server.get(f"/api/v1/cancellations/{done['id']}", token=token)
    assert got.status_code == 200 and got.json()["status"] == "cancelled"
    assert server.get(f"/api/v1/lines/{msisdn}", token=token).json()["status"] == "cancelled"
    pdf = server.get(f"/api/v1/cancellations/{done['id']}/receipt.pdf", token=token)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # reversal on a second line, read back
    simple = add_line(server, balance={"cash_fen": 50000, "gift_fen": 0})
    from tests.served.flows import sign_in

    token2 = sign_in(server, simple["msisdn"])
    r2 = cancel(server, simple, token2, check(server, simple["msisdn"], token2))
    assert r2.status_code == 201, r2.text
    back = server.post(f"/api/v1/cancellations/{r2.json()['id']}/reversal", token=token2)
    assert back.status_code == 200, back.text
    got = server.get(f"/api/v1/cancellations/{r2.json()['id']}", token=token2).json()
    assert got["status"] == "reversed"
    assert server.get(f"/api/v1/lines/{simple['msisdn']}", token=token2).json()["status"] == (
        "active"
    )

    # late usage, then the cycle closes: the settlement shows on the cancellation
    r = server.post("/api/v1/sandbox/usage", {"msisdn": msisdn, "amount_fen": 300})
    assert r.status_code == 201 and r.json()["amount_fen"] == 300, r.text
    assert server.put("/api/v1/sandbox/clock", {"now": "2026-12-02T10:00:00+08:00"}).is_success
    r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2026-11"})
    assert r.status_code == 200, r.text
    # Back to the sign-in's day, where the token is still good (a cancelled line gets no SMS).
    assert server.put("/api/v1/sandbox/clock", {"now": NOW}).is_success
    settled = server.get(f"/api/v1/cancellations/{done['id']}", token=token).json()
    assert settled["settlement"] is not None, settled
    problem(
        server.post("/api/v1/sandbox/runs/close-cycle", {"period": "2026-13"}),
        422,
        "PERIOD_INVALID",
    )

    # operations
    balance = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert balance["balanced"] is True and balance["debits_fen"] == balance["credits_fen"]
    verified = server.get("/api/v1/admin/audit/verify").json()
    assert verified["intact"] is True and verified["events"] > audit_before
    assert server.get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "mode": "sandbox",
        "gateways": "sandbox",
    }
    assert "swagger" in server.get("/docs").text.lower()
    paths = server.get("/openapi.json").json()["paths"]
    assert {"/api/v1/cancellations", "/api/v1/auth/otp", "/healthz"} <= set(paths)


def test_production_mode_has_no_sandbox() -> None:
    env = {"XIAOHU_ALLOW_SANDBOX_GATEWAYS": "true"}
    with serve("production", env=env) as server:
        health = server.get("/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "production"
        for method, path in [
            ("POST", "/api/v1/sandbox/lines"),
            ("GET", "/api/v1/sandbox/sms"),
            ("PUT", "/api/v1/sandbox/clock"),
            ("POST", "/api/v1/sandbox/runs/close-cycle"),
            ("POST", "/api/v1/sandbox/usage"),
        ]:
            r = server.request(method, path, {} if method != "GET" else None)
            problem(r, 404, "NOT_FOUND")
        assert "/api/v1/sandbox/lines" not in server.get("/openapi.json").json()["paths"]
