"""Defect: the answer left before the commit. A 2xx must mean the change is visible to the
very next request, on a fresh connection, with no pause in between."""

from __future__ import annotations

from tests.served.flows import add_line, latest_code, sign_in
from tests.served.harness import Served


def test_a_payment_is_visible_to_the_next_read(server: Served) -> None:
    record = add_line(server, balance={"cash_fen": 0, "gift_fen": 0})
    msisdn = record["msisdn"]
    token = sign_in(server, msisdn)
    expected = 0
    for _ in range(30):
        r = server.post(f"/api/v1/lines/{msisdn}/payments", {"amount_fen": 100}, token=token)
        assert r.status_code == 201, r.text
        expected += 100
        line = server.get(f"/api/v1/lines/{msisdn}", token=token)
        assert line.status_code == 200, line.text
        assert line.json()["balance"]["cash_fen"] == expected


def test_the_code_is_in_the_outbox_when_the_202_returns(server: Served) -> None:
    for _ in range(30):
        msisdn = add_line(server)["msisdn"]
        r = server.post("/api/v1/auth/otp", {"msisdn": msisdn})
        assert r.status_code == 202, r.text
        assert latest_code(server, msisdn) is not None


def test_the_clock_set_is_the_clock_seen(server: Served) -> None:
    for day in range(1, 21):
        now = f"2027-01-{day:02d}T10:00:00+08:00"
        assert server.put("/api/v1/sandbox/clock", {"now": now}).status_code == 200
        seen = server.get("/api/v1/sandbox/clock").json()["now"]
        assert seen.startswith(f"2027-01-{day:02d}T")


def test_a_quote_right_after_the_first_sign_in_is_honoured(server: Served) -> None:
    from tests.served.flows import cancel, check

    for _ in range(5):
        record = add_line(server, balance={"cash_fen": 50000, "gift_fen": 0})
        token = sign_in(server, record["msisdn"])
        quote = check(server, record["msisdn"], token)
        assert quote["eligible"], quote["blockers"]
        r = cancel(server, record, token, quote)
        assert r.status_code == 201, r.text
