"""The stories that span provinces, across three real PostgreSQL servers and a real broker,
driven over HTTP against `xiaohu serve` with a node map (n1: 11 Beijing and the national data,
n2: 44 Guangdong, n3: every other province). One deployment for the module; every test makes its
own lines. The settlement story runs after the others: it settles the month they made dues in;
the province move comes last, as it changes the map."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.factories import line_record, owner
from tests.national.harness import (
    NODE_OF,
    PLAN_30,
    STORES,
    National,
    Staff,
    books,
    dues,
    missing,
    nat_deployment,
    nat_server,
    nat_staff,
    nodes_up,
    queue_depth,
    set_clock,
    store_cancel,
    store_check,
    store_pay,
    wait_for,
)
from tests.national.harness import drawer as drawer_of
from tests.served.flows import add_line, cancel, check, sign_in
from tests.served.harness import Served

__all__ = ["nat_deployment", "nat_server", "nat_staff"]  # the fixtures this module uses

MISSING = missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

NOW = "2026-11-24T10:00:00+08:00"  # a Tuesday in November: every story's dues fall in 2026-11
TODAY = "2026-11-24"
PERIOD = "2026-11"
MESSAGE_WAIT = 30  # seconds a message between nodes may take, at most


@pytest.fixture()
def server(nat_server: Served) -> Served:
    nodes_up()
    set_clock(nat_server, NOW)
    return nat_server


def masked(msisdn: str) -> str:
    return msisdn[:3] + "****" + msisdn[-4:]


def test_the_map_puts_each_province_on_its_node(nat_deployment: National) -> None:
    """The three servers hold what the map says: the schema on each, and lines imported in one
    batch land on their home province's node only."""
    server = nat_deployment.server
    records = [line_record(province=p, plan=PLAN_30) for p in ("11", "44", "32")]
    r = server.post("/api/v1/sandbox/lines", records)
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    for rec, province in zip(records, ("11", "44", "32"), strict=True):
        for node in ("n1", "n2", "n3"):
            found = nat_deployment.scalar(
                node, "SELECT count(*) FROM lines WHERE msisdn = :m", m=rec["msisdn"]
            )
            assert found == (1 if node == NODE_OF[province] else 0), (province, node, found)


def test_a_guangdong_line_cancelled_for_cash_at_a_beijing_store(
    server: Served, nat_staff: Staff
) -> None:
    clerk = nat_staff.token("bj.clerk")
    before = drawer_of(server, clerk, TODAY)
    owed_before = dues(server, PERIOD).get(("44", "11"), 0)
    rec = add_line(server, province="44", plan=PLAN_30, balance={"cash_fen": 20000, "gift_fen": 0})
    quote = store_check(server, clerk, rec)
    assert quote["cross_region"] is True and quote["eligible"] is True, quote
    assert (quote["home_province"], quote["handling_province"]) == ("44", "11")
    refund = quote["quote"]["refund_now_fen"]
    assert refund > 0, quote

    r = store_cancel(server, clerk, rec, quote)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "cancelled" and out["cross_region"] is True
    assert out["refund"]["route"] == {"kind": "cash", "store_code": STORES["bj"]["code"]}
    assert out["refund"]["refund_now_fen"] == refund

    # Beijing's drawer (node n1) hears of the cash through the broker, once.
    after = wait_for(
        "the Beijing drawer shows the refund paid out",
        lambda: drawer_of(server, clerk, TODAY),
        lambda d: d["cash_out_fen"] - before["cash_out_fen"] >= refund,
        MESSAGE_WAIT,
    )
    assert after["cash_out_fen"] - before["cash_out_fen"] == refund, after
    assert after["reconciled"] is True, after

    # The due, as head office reads it, and in each province's own books, to the fen.
    assert dues(server, PERIOD)[("44", "11")] - owed_before == refund
    bj, gd = books(server, "11"), books(server, "44")
    assert bj["due_from:11:44"] == -gd["due_to:44:11"] > 0, (bj, gd)
    for province in ("32", "65"):  # node n3's books too
        books(server, province)
    national = server.get("/api/v1/admin/ledger/trial-balance")
    assert national.status_code == 200 and national.json()["balanced"] is True, national.text

    # The clerk reads the cancellation back (it lives on Guangdong's node).
    r = server.get(f"/api/v1/cancellations/{out['id']}", token=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


def test_a_work_order_opens_on_the_home_node_and_its_back_office_decides(
    server: Served, nat_staff: Staff
) -> None:
    """A fraud-stopped Guangdong line at a Beijing counter: the order is Guangdong's."""
    clerk = nat_staff.token("bj.clerk")
    gd_review, bj_review = nat_staff.token("gz.review"), nat_staff.token("bj.review")
    rec = add_line(server, province="44", status="fraud_stop", plan=PLAN_30,
                   balance={"cash_fen": 20000, "gift_fen": 0})  # fmt: skip
    quote = store_check(server, clerk, rec)
    assert quote["eligible"] is True and quote["review_required"] is True, quote
    r = store_cancel(server, clerk, rec, quote, refund="original")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending_review", body
    order_id = body["work_order"]["id"]

    r = server.get("/api/v1/workorders", params={"status": "open"}, token=gd_review)
    assert r.status_code == 200, r.text
    (order,) = [o for o in r.json()["work_orders"] if o["id"] == order_id]
    assert order["msisdn"] == rec["msisdn"]
    assert (order["home_province"], order["handling_province"]) == ("44", "11")
    r = server.get("/api/v1/workorders", params={"status": "open"}, token=bj_review)
    assert r.status_code == 200, r.text
    assert order_id not in [o["id"] for o in r.json()["work_orders"]]

    decision = {"decision": "approve", "reason": "核查完毕"}
    other = server.post(f"/api/v1/workorders/{order_id}/decision", decision, token=bj_review,
                        headers={"Idempotency-Key": f"nat-wo-bj-{order_id}"})  # fmt: skip
    r = server.post(f"/api/v1/workorders/{order_id}/decision", decision, token=gd_review,
                    headers={"Idempotency-Key": f"nat-wo-gd-{order_id}"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["status"] == "cancelled"
    r = server.get("/api/v1/workorders", params={"status": "closed"}, token=gd_review)
    assert order_id in [o["id"] for o in r.json()["work_orders"]], r.text
    books(server, "44")
    # Beijing's back office may not decide Guangdong's order (asked before the approval).
    assert other.status_code == 403 and other.json()["code"] == "FORBIDDEN", other.text


def test_five_lines_per_id_counts_every_node_and_the_id_lookup_lists_them(server: Served) -> None:
    person = owner()
    first = [line_record(province=p, owner=person, plan=PLAN_30) for p in ("11", "44", "32")]
    r = server.post("/api/v1/sandbox/lines", first)  # one batch, three nodes
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    more = [line_record(province=p, owner=person, plan=PLAN_30) for p in ("11", "44")]
    for rec in more:  # one at a time: each node alone holds fewer than five
        r = server.post("/api/v1/sandbox/lines", [rec])
        assert r.status_code == 200, r.text

    for province in ("44", "65", "11"):  # a sixth, wherever it would live, is refused
        sixth = line_record(province=province, owner=person, plan=PLAN_30)
        r = server.post("/api/v1/sandbox/lines", [sixth])
        assert r.status_code == 422 and r.json()["code"] == "IMPORT_INVALID", (province, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["owner.id_number"], r.text

    token = sign_in(server, first[1]["msisdn"])  # the Guangdong line's owner, on node n2
    r = server.post("/api/v1/id-lookup", {"name": person["name"], "id_number": person["id_number"]},
                    token=token)  # fmt: skip
    assert r.status_code == 200, r.text
    found = {x["msisdn_masked"]: x["home_province"] for x in r.json()["lines"]}
    homes = ["11", "44", "32", "11", "44"]
    assert found == {
        masked(rec["msisdn"]): p for rec, p in zip([*first, *more], homes, strict=True)
    }
    r = server.post("/api/v1/id-lookup", {"name": "别人", "id_number": person["id_number"]},
                    token=token)  # fmt: skip
    assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text


def _cancel_online(server: Served, rec: dict[str, Any]) -> dict[str, Any]:
    token = sign_in(server, rec["msisdn"])
    quote = check(server, rec["msisdn"], token)
    assert quote["eligible"] is True, quote
    r = cancel(server, rec, token, quote)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_the_recycled_number_check_answers_for_every_node_in_one_batch(server: Served) -> None:
    r = server.post("/api/v1/sandbox/platforms", {"name": f"nat-{secrets.token_hex(4)}"})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    gone = {p: add_line(server, province=p, plan=PLAN_30) for p in ("11", "44", "32")}
    kept = {p: add_line(server, province=p, plan=PLAN_30) for p in ("11", "44", "32")}
    for rec in gone.values():
        _cancel_online(server, rec)

    queries, expected = [], []
    for p in ("11", "44", "32"):
        for number, since, changed in (
            (gone[p]["msisdn"], "2026-01-01", True),  # bound before the cancellation
            (gone[p]["msisdn"], "2026-11-25", False),  # bound after it
            (kept[p]["msisdn"], "2026-01-01", False),  # never cancelled
        ):
            queries.append({"msisdn": number, "bound_since": since})
            expected.append({"msisdn": number, "changed": changed})
    r = server.post("/api/v1/platform/recycled-checks", {"queries": queries},
                    headers={"X-Api-Key": key})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["results"] == expected


def _wait_drawer(server: Served, clerk: str, field: str, at_least: int) -> dict[str, Any]:
    return wait_for(
        f"the drawer's {field} reaches {at_least}",
        lambda: drawer_of(server, clerk, TODAY),
        lambda d: d[field] >= at_least,
        MESSAGE_WAIT,
    )


def test_the_month_settles_across_nodes_and_clears_every_provinces_books(
    server: Served, nat_staff: Staff
) -> None:
    """Dues of its own (on top of the module's): cash taken in for a Jiangsu line at Guangzhou
    (44 owes 32) and for a Beijing line at Nanjing (32 owes 11); then November is settled."""
    gz, nj = nat_staff.token("gz.clerk"), nat_staff.token("nj.clerk")
    gz_in, nj_in = (
        drawer_of(server, gz, TODAY)["cash_in_fen"],
        drawer_of(server, nj, TODAY)["cash_in_fen"],
    )
    js = add_line(server, province="32", plan=PLAN_30)
    bj = add_line(server, province="11", plan=PLAN_30)
    r = store_pay(server, gz, js["msisdn"], 5000, f"nat-settle-gz-{js['msisdn']}")
    assert r.status_code == 201, r.text
    r = store_pay(server, nj, bj["msisdn"], 3000, f"nat-settle-nj-{bj['msisdn']}")
    assert r.status_code == 201, r.text
    _wait_drawer(server, gz, "cash_in_fen", gz_in + 5000)
    _wait_drawer(server, nj, "cash_in_fen", nj_in + 3000)

    owed = dues(server, PERIOD)
    assert owed.get(("44", "32"), 0) >= 5000 and owed.get(("32", "11"), 0) >= 3000, owed
    # Both halves of every due, each in its own province's books on its own node.
    provinces = sorted({p for pair in owed for p in pair})
    ledgers = {p: books(server, p) for p in provinces}
    for (payer, receiver), amount in owed.items():
        assert ledgers[payer][f"due_to:{payer}:{receiver}"] == -amount, (payer, receiver)
        assert ledgers[receiver][f"due_from:{receiver}:{payer}"] == amount, (payer, receiver)

    set_clock(server, "2026-11-30T23:00:00+08:00")
    r = server.post("/api/v1/sandbox/runs/settle", {"period": PERIOD})
    assert r.status_code == 409 and r.json()["code"] == "PERIOD_NOT_ENDED", r.text
    set_clock(server, "2026-12-02T10:00:00+08:00")
    r = server.post("/api/v1/sandbox/runs/settle", {"period": PERIOD})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["gross_fen"] == sum(owed.values())
    statements = {s["province_code"]: s for s in result["statements"]}
    assert sorted(statements) == provinces
    for p, s in statements.items():
        receivable = sum(a for (_, to), a in owed.items() if to == p)
        payable = sum(a for (fr, _), a in owed.items() if fr == p)
        assert (s["receivable_fen"], s["payable_fen"]) == (receivable, payable), s
        assert s["net_fen"] == receivable - payable
        moved = sum(t["amount_fen"] for t in result["transfers"] if t["to"] == p) - sum(
            t["amount_fen"] for t in result["transfers"] if t["from"] == p
        )
        assert moved == s["net_fen"], (p, result["transfers"])

    def cleared() -> dict[str, dict[str, int]]:
        return {
            p: {a: b for a, b in books(server, p).items() if a.startswith("due_") and b}
            for p in provinces
        }

    wait_for("every province's due accounts cleared", cleared,
             lambda left: not any(left.values()), MESSAGE_WAIT)  # fmt: skip
    r = server.post("/api/v1/sandbox/runs/settle", {"period": PERIOD})
    assert r.status_code == 200 and r.json() == result, r.text
    r = server.get(f"/api/v1/admin/settlement/{PERIOD}")
    assert r.status_code == 200 and r.json() == result, r.text
    assert not any(cleared().values())  # and the second run posted nothing


def test_a_province_moves_to_another_node_without_losing_a_message(
    nat_deployment: National, nat_staff: Staff
) -> None:
    """Xinjiang (65) moves from n3 to n2 with messages for it waiting (the broker cut): the
    move, then the broker back; each message is applied once, on the province's new node."""
    nat, server = nat_deployment, nat_deployment.server
    nodes_up()
    set_clock(server, "2026-12-03T10:00:00+08:00")  # after November's settlement
    clerk = nat_staff.token("wl.clerk")
    xj = add_line(server, province="65", plan=PLAN_30)["msisdn"]
    xj_token = sign_in(server, xj)
    lines = [add_line(server, province="44", plan=PLAN_30)["msisdn"] for _ in range(3)]
    before = drawer_of(server, clerk, "2026-12-03")["cash_in_fen"]
    mark = nat.last_outbox_id("n2")
    nat.proxy.cut()
    try:
        for i, msisdn in enumerate(lines):
            r = store_pay(server, clerk, msisdn, 700 + i, f"nat-move-{msisdn}")
            assert r.status_code == 201, r.text
        messages = [m for m in nat.messages_since("n2", mark) if m["to_province"] == "65"]
        assert [m["status"] for m in messages] == ["pending"] * 3, messages
        moved = nat.run("node", "move", "--province", "65", "--to", "n2")
        assert moved.returncode == 0, moved.stdout + moved.stderr
    finally:
        nat.proxy.restore()

    count = "SELECT count(*) FROM lines WHERE msisdn = :m"
    assert (nat.scalar("n2", count, m=xj), nat.scalar("n3", count, m=xj)) == (1, 0)
    wait_for("the moved line answers from its new node",
             lambda: server.get(f"/api/v1/lines/{xj}/cancellation-check", token=xj_token),
             lambda r: r.status_code == 200, MESSAGE_WAIT)  # fmt: skip
    ids, refs = [m["id"] for m in messages], [m["payload"]["ref"] for m in messages]

    def state() -> dict[str, Any]:  # what a timeout reports: where the messages are
        return {
            "cash_in_fen": drawer_of(server, clerk, "2026-12-03")["cash_in_fen"],
            "outbox_n2": [m["status"] for m in nat.messages_since("n2", mark)],
            "outbox_n3": [m["status"] for m in nat.messages_since("n3", 0) if m["id"] in ids],
            "applied_n2": nat.applied("n2", ids),
            "applied_n3": nat.applied("n3", ids),
            "queue_65": queue_depth(nat.namespace, "65"),
        }

    wait_for("the Xinjiang drawer takes the three payments in", state,
             lambda s: s["cash_in_fen"] >= before + 2103, MESSAGE_WAIT)  # fmt: skip
    assert len(ids) == 3, messages
    assert (nat.applied("n2", ids), nat.applied("n3", ids)) == (3, 0)
    assert nat.postings("n2", "interprovince.cash_collected", refs) == dict.fromkeys(refs, 1)
    assert drawer_of(server, clerk, "2026-12-03")["cash_in_fen"] == before + 2103
    books(server, "65")
