"""Faults of a national deployment, for real: the broker gone (the proxy in front of RabbitMQ
cut), one node's PostgreSQL server stopped, a node restarted and a consumer killed while
messages are on their way. The served process here only serves: a `xiaohu consume --node N`
process per node moves the messages, so one can be killed -9.

Messages are counted where they are applied (the receiving node's inbox and its ledger), so
"nothing lost, nothing applied twice" is a count, not a hope."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.factories import line_record
from tests.national.harness import (
    PLAN_30,
    National,
    Staff,
    cluster_control_missing,
    cluster_down,
    missing,
    nat_consumed_deployment,
    nodes_up,
    problem,
    set_clock,
    store_cancel,
    store_check,
    store_pay,
    wait_for,
)
from tests.national.harness import drawer as drawer_of
from tests.served.flows import add_line, check, sign_in
from tests.served.harness import Served

__all__ = ["nat_consumed_deployment"]  # the fixture this module uses

MISSING = missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

NOW = "2026-11-24T10:00:00+08:00"
TODAY = "2026-11-24"
FLOW_WAIT = 90  # seconds for a backlog to flow once the fault is over (consumer backoffs)


@pytest.fixture(scope="module")
def staff(nat_consumed_deployment: National) -> Staff:
    roster = Staff(nat_consumed_deployment.server)
    roster.load()
    return roster


@pytest.fixture()
def nat(nat_consumed_deployment: National) -> National:
    nodes_up()
    set_clock(nat_consumed_deployment.server, NOW)
    return nat_consumed_deployment


def guangdong_lines(server: Served, n: int) -> list[str]:
    return [add_line(server, province="44", plan=PLAN_30)["msisdn"] for _ in range(n)]


def sent_to(nat: National, node: str, mark: int, province: str) -> list[dict[str, Any]]:
    """The messages `node` has written for `province` since outbox row `mark`."""
    return [m for m in nat.messages_since(node, mark) if m["to_province"] == province]


def assert_applied_once(nat: National, node: str, messages: list[dict[str, Any]]) -> None:
    """Every message applied on `node`, each exactly once: its inbox row, and one ledger
    transaction of its kind for its ref."""
    ids = [m["id"] for m in messages]
    assert nat.applied(node, ids) == len(ids)
    for kind in {m["kind"] for m in messages}:
        refs = [m["payload"]["ref"] for m in messages if m["kind"] == kind]
        assert nat.postings(node, kind, refs) == dict.fromkeys(refs, 1), kind


def test_broker_down_requests_succeed_messages_wait_then_flow_once(
    nat: National, staff: Staff
) -> None:
    """Cash taken in at a Beijing store (node n1) for Guangdong lines (node n2), and one of
    them cancelled there with the balance handed over in cash, while the broker is
    unreachable: each request succeeds, its message waits in n2's outbox; the broker back, they
    flow, and Beijing's drawer counts each once."""
    server, clerk = nat.server, staff.token("bj.clerk")
    lines = guangdong_lines(server, 3)
    before = drawer_of(server, clerk, TODAY)
    mark = nat.last_outbox_id("n2")
    amounts = [1100, 2200, 3300]

    def cash() -> tuple[int, int]:
        now = drawer_of(server, clerk, TODAY)
        return now["cash_in_fen"] - before["cash_in_fen"], now["cash_out_fen"] - before[
            "cash_out_fen"
        ]

    nat.proxy.cut()
    try:
        for msisdn, amount in zip(lines, amounts, strict=True):
            r = store_pay(server, clerk, msisdn, amount, f"nat-down-{msisdn}")
            assert r.status_code == 201, r.text
        record = add_line(server, province="44", plan=PLAN_30,
                          balance={"cash_fen": 20000, "gift_fen": 0})  # fmt: skip
        quote = store_check(server, clerk, record)
        r = store_cancel(server, clerk, record, quote)
        assert r.status_code == 201, r.text
        refund = r.json()["refund"]["refund_now_fen"]
        assert refund > 0, r.text
        time.sleep(3)  # the relay has tried (it sweeps every second) and failed
        waiting = sent_to(nat, "n2", mark, "11")
        assert [m["status"] for m in waiting] == ["pending"] * 4, waiting
        assert nat.applied("n1", [m["id"] for m in waiting]) == 0
        assert cash() == (0, 0)
    finally:
        nat.proxy.restore()

    wait_for("Beijing's drawer takes the payments in and pays the refund out", cash,
             lambda moved: moved[0] >= sum(amounts) and moved[1] >= refund, FLOW_WAIT)  # fmt: skip
    wait_for("n2's outbox rows marked delivered",
             lambda: [m["status"] for m in sent_to(nat, "n2", mark, "11")],
             lambda s: s == ["delivered"] * 4, FLOW_WAIT)  # fmt: skip
    time.sleep(1)  # a duplicate, if the relay sent one, has had time to arrive
    assert cash() == (sum(amounts), refund)
    assert_applied_once(nat, "n1", sent_to(nat, "n2", mark, "11"))


def _otp(server: Served, msisdn: str) -> Any:
    return server.post("/api/v1/auth/otp", {"msisdn": msisdn})


def test_one_node_down_its_provinces_answer_503_the_others_work(
    nat: National, staff: Staff
) -> None:
    reason = cluster_control_missing()
    if reason:
        pytest.skip(reason)
    server = nat.server
    clerk = staff.token("bj.clerk")
    jiangsu = add_line(server, province="32", plan=PLAN_30)["msisdn"]  # node n3
    js_token = sign_in(server, jiangsu)
    beijing = add_line(server, province="11", plan=PLAN_30)["msisdn"]
    guangdong = add_line(server, province="44", plan=PLAN_30)["msisdn"]
    before = drawer_of(server, clerk, TODAY)["cash_in_fen"]

    with cluster_down("n3"):
        for r in (
            _otp(server, jiangsu),
            server.get(f"/api/v1/lines/{jiangsu}/cancellation-check", token=js_token),
            server.post("/api/v1/sandbox/lines", [line_record(province="65", plan=PLAN_30)]),
        ):
            assert r.status_code == 503, (r.request.url, r.text)
            assert problem(r)["code"] == "NODE_UNAVAILABLE", r.text
            assert int(r.headers["retry-after"]) > 0
        # Beijing and Guangdong answer as ever, a payment between them included.
        for msisdn in (beijing, guangdong):
            quote = check(server, msisdn, sign_in(server, msisdn))
            assert quote["eligible"] is True, quote
        r = store_pay(server, clerk, guangdong, 1500, f"nat-n3down-{guangdong}")
        assert r.status_code == 201, r.text
        wait_for("Beijing's drawer takes the payment in while n3 is down",
                 lambda: drawer_of(server, clerk, TODAY)["cash_in_fen"],
                 lambda cash: cash == before + 1500, FLOW_WAIT)  # fmt: skip
        r = server.get("/api/v1/admin/ledger/trial-balance", params={"province_code": "11"})
        assert r.status_code == 200 and r.json()["balanced"] is True, r.text
        # The health report names the node that is down; the national data's node is fine.
        r = server.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "degraded", r.text
        assert r.json()["database"] == "ok" and r.json()["nodes"]["n3"] != "ok", r.text
        assert (r.json()["nodes"]["n1"], r.json()["nodes"]["n2"]) == ("ok", "ok"), r.text

    # Back: Jiangsu answers again (the first requests may still meet a dropped connection),
    # and a line of n3 is imported and signed in to.
    path = f"/api/v1/lines/{jiangsu}/cancellation-check"
    wait_for("Jiangsu's check once n3 is back",
             lambda: server.get(path, token=js_token).status_code,
             lambda code: code == 200, 60)  # fmt: skip
    health = server.get("/healthz")
    assert health.status_code == 200 and set(health.json()["nodes"].values()) == {"ok"}
    xinjiang = add_line(server, province="65", plan=PLAN_30)["msisdn"]
    quote = check(server, xinjiang, sign_in(server, xinjiang))
    assert quote["eligible"] is True, quote


def _pay_many(
    server: Served, clerk: str, lines: list[str], amounts: list[int], answers: list[int]
) -> None:
    for i, amount in enumerate(amounts):
        msisdn = lines[i % len(lines)]
        r = store_pay(server, clerk, msisdn, amount, f"nat-stream-{msisdn}-{i}-{amount}")
        answers.append(r.status_code)
        time.sleep(0.1)  # a stream, not a burst: the fault lands in the middle of it


def _stream(
    nat: National, staff: Staff, amounts: list[int], fault: Any
) -> tuple[list[dict[str, Any]], int]:
    """Cash taken in at the Nanjing store (province 32, node n3) for Guangdong lines (node n2):
    one message to n3 per payment. `fault(answers, mark)` runs beside the payments (`mark`:
    n2's last outbox row before them); then the messages sent and the Nanjing drawer's cash in
    before."""
    server, clerk = nat.server, staff.token("nj.clerk")
    lines = guangdong_lines(server, 4)
    before = drawer_of(server, clerk, TODAY)["cash_in_fen"]
    mark = nat.last_outbox_id("n2")
    answers: list[int] = []
    payer = threading.Thread(target=_pay_many, args=(server, clerk, lines, amounts, answers))
    payer.start()
    try:
        fault(answers, mark)
    finally:
        payer.join(timeout=120)
    assert not payer.is_alive(), "the payments did not finish"
    assert answers == [201] * len(amounts), answers
    messages = sent_to(nat, "n2", mark, "32")
    assert len(messages) == len(amounts), messages
    return messages, before


def _settled(nat: National, staff: Staff, messages: list[dict[str, Any]], before: int) -> None:
    server, clerk = nat.server, staff.token("nj.clerk")
    total = sum(m["payload"]["amount_fen"] for m in messages)
    wait_for("every message applied on n3",
             lambda: nat.applied("n3", [m["id"] for m in messages]),
             lambda n: n == len(messages), FLOW_WAIT)  # fmt: skip
    time.sleep(1)  # a redelivery, if one is coming, has had time to arrive
    assert_applied_once(nat, "n3", messages)
    assert drawer_of(server, clerk, TODAY)["cash_in_fen"] == before + total


def test_a_node_restarted_mid_stream_loses_nothing_and_applies_nothing_twice(
    nat: National, staff: Staff
) -> None:
    reason = cluster_control_missing()
    if reason:
        pytest.skip(reason)
    amounts = [100 + i for i in range(24)]

    during: list[int] = []

    def restart(answers: list[int], _mark: int) -> None:
        wait_for("the first payments made", lambda: len(answers), lambda n: n >= 5, 60)
        with cluster_down("n3"):
            stopped = len(answers)
            time.sleep(1.5)  # the consumer of n3 meets a database that is gone, mid-stream
            during.append(len(answers) - stopped)

    messages, before = _stream(nat, staff, amounts, restart)
    assert during and during[0] > 0, "no message was sent while n3 was down"
    _settled(nat, staff, messages, before)


def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    nat: National, staff: Staff
) -> None:
    amounts = [200 + i for i in range(24)]
    after: list[int] = []

    def kill(answers: list[int], mark: int) -> None:
        # Kill -9 n3's consumer once it has applied some of the stream, then start another.
        wait_for("n3's consumer applies the first messages",
                 lambda: nat.applied("n3", [m["id"] for m in sent_to(nat, "n2", mark, "32")]),
                 lambda n: n >= 3, 60)  # fmt: skip
        nat.kill_consumer("n3")
        after.append(len(amounts) - len(answers))
        time.sleep(1)
        nat.start_consumer("n3")

    messages, before = _stream(nat, staff, amounts, kill)
    assert after and after[0] > 0, "the stream had ended before the consumer was killed"
    _settled(nat, staff, messages, before)
