"""Served (sandbox): a refund is answered `pending` until the gateway pays it out; a payout
the sandbox gateway declines (over ¥50,000) stays pending, and payable in the ledger."""

from __future__ import annotations

from tests.served.flows import add_line, cancel, check, sign_in
from tests.served.harness import Served


def payable(server: Served, province: str) -> int:
    tb = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert tb["balanced"] is True, tb
    [account] = [a for a in tb["accounts"] if a["code"] == f"refunds_payable:{province}"] or [
        {"balance_fen": 0}
    ]
    return -int(account["balance_fen"])  # a liability: credit-normal


def test_a_declined_payout_is_answered_pending_not_paid(server: Served) -> None:
    record = add_line(server, province="33", balance={"cash_fen": 6_000_000, "gift_fen": 0})
    token = sign_in(server, record["msisdn"])
    quote = check(server, record["msisdn"], token)
    assert quote["quote"]["refund_now_fen"] > 5_000_000  # above the sandbox payout limit
    owed_before = payable(server, "33")
    r = cancel(server, record, token, quote)
    assert r.status_code == 201, r.text
    refund = r.json()["refund"]
    assert refund["status"] == "pending"
    # The inline delivery after the commit was declined: still pending, still owed.
    got = server.get(f"/api/v1/cancellations/{r.json()['id']}", token=token)
    assert got.status_code == 200, got.text
    assert got.json()["refund"]["status"] == "pending"
    assert payable(server, "33") - owed_before == refund["refund_now_fen"]


def test_a_payout_the_gateway_takes_reads_back_paid(server: Served) -> None:
    record = add_line(server, province="33", balance={"cash_fen": 20000, "gift_fen": 0})
    token = sign_in(server, record["msisdn"])
    r = cancel(server, record, token, check(server, record["msisdn"], token))
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["status"] == "pending"  # answered before the payout
    got = server.get(f"/api/v1/cancellations/{r.json()['id']}", token=token)
    assert got.json()["refund"]["status"] == "paid"
