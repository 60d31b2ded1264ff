"""Lines living their whole life on the test clock, against a served `xiaohu serve` and a
`xiaohu scheduler` process, with nobody calling a run endpoint: monthly bills, arrears, the
warnings, the automatic cancellation (Beijing after 3 months, Guangdong after 2 with the debt
written off), a retained line whose balance runs out, a reactivation, a reclaim during
quarantine, the recycled-number check before and after, and a number back in the pool.

The clock moves forward step by step; after each step the test waits until the scheduler has
done that day's lifecycle run (`GET /api/v1/admin/runs?job=lifecycle`), then checks the books
(trial balance, audit chain) and every line's state against the story's timetable.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from tests.factories import STAFF_PASSWORD, line_record, owner
from tests.served.flows import sign_in
from tests.served.harness import Served, add_rows, serve
from tests.served.staffing import served_token
from tests.served.test_lifecycle_scheduler import scheduler
from xiaohu.identity.passwords import hash_password
from xiaohu.kit.db import make_engine
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}
CHECKS = "/api/v1/platform/recycled-checks"
STORE = "11-BJ-0701"
START = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
D = dt.date


def at(server: Served, day: dt.date) -> None:
    now = dt.datetime.combine(day, dt.time(10), tzinfo=START.tzinfo)
    r = server.put("/api/v1/sandbox/clock", {"now": now.isoformat()})
    assert r.status_code == 200, r.text


def wait(server: Served, what: str, ok: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            log = (server.log_path.parent / "scheduler.log").read_text(errors="replace")
            raise AssertionError(f"{what}: not within {timeout}s\n{log[-4000:]}")
        time.sleep(0.1)


def latest(server: Served, job: str) -> str | None:
    r = server.get("/api/v1/admin/runs", params={"job": job, "limit": 1})
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    return str(runs[0]["key"]) if runs and runs[0]["status"] == "done" else None


def caught_up(server: Served, day: dt.date) -> None:
    """Wait until the scheduler has done `day`'s lifecycle (and so every run before it)."""
    wait(server, f"lifecycle {day}", lambda: latest(server, "lifecycle") == day.isoformat())


def books(server: Served) -> None:
    tb = server.get("/api/v1/admin/ledger/trial-balance")
    assert tb.status_code == 200 and tb.json()["balanced"] is True, tb.text
    audit = server.get("/api/v1/admin/audit/verify")
    assert audit.status_code == 200 and audit.json()["intact"] is True, audit.text


def rows(server: Served, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def state(server: Served, msisdn: str) -> tuple[str, str | None]:
    ((status, since),) = rows(
        server, "SELECT status, arrears_since FROM lines WHERE msisdn = :m", m=msisdn
    )
    return str(status), None if since is None else str(since)[:10]


def number_status(server: Served, msisdn: str) -> str:
    ((status,),) = rows(server, "SELECT status FROM numbers WHERE msisdn = :m", m=msisdn)
    return str(status)


def bills(server: Served, msisdn: str) -> list[tuple[str, str, int, int, str]]:
    """(period, kind, amount, paid, status) of the line's bills, oldest first."""
    found = rows(
        server,
        "SELECT b.period, b.kind, b.amount_fen, b.paid_fen, b.status FROM bills b "
        "JOIN lines l ON l.id = b.line_id WHERE l.msisdn = :m ORDER BY b.period, b.kind",
        m=msisdn,
    )
    return [(str(p), str(k), int(a), int(pd), str(s)) for p, k, a, pd, s in found]


def sms(server: Served, msisdn: str, kind: str) -> list[dict[str, Any]]:
    r = server.get("/api/v1/sandbox/sms", params={"msisdn": msisdn})
    assert r.status_code == 200, r.text
    return [m for m in r.json()["messages"] if m["kind"] == kind]


def sms_count(server: Served, msisdn: str, kind: str, expected: int) -> None:
    """The SMS of `kind` to `msisdn` number exactly `expected` (delivery runs on a thread of
    its own: wait until they are there, then no more may be)."""
    wait(server, f"{expected} {kind} to {msisdn}",
         lambda: len(sms(server, msisdn, kind)) >= expected, timeout=20)  # fmt: skip
    assert len(sms(server, msisdn, kind)) == expected, sms(server, msisdn, kind)


def changed(server: Served, key: str, numbers: list[str], since: str = "2026-01-01") -> list[bool]:
    body = {"queries": [{"msisdn": n, "bound_since": since} for n in numbers]}
    r = server.post(CHECKS, body, headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["msisdn"] for x in results] == numbers
    return [bool(x["changed"]) for x in results]


def pay(server: Served, msisdn: str, amount_fen: int, token: str) -> dict[str, Any]:
    r = server.post(f"/api/v1/lines/{msisdn}/payments", {"amount_fen": amount_fen}, token=token)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def add_clerk(server: Served) -> str:
    add_rows(
        server,
        Store(code=STORE, name="北京东单营业厅", province_code="11", city="北京",
              kind="own_flagship", created_at=START, updated_at=START),
    )  # fmt: skip
    add_rows(
        server,
        StaffMember(id=9701, login="story.bj", name="赵六", role="clerk", province_code="11",
                    store_code=STORE, password_hash=hash_password(STAFF_PASSWORD), failures=0,
                    created_at=START, updated_at=START),
    )  # fmt: skip
    return served_token(9701, "story.bj", "clerk", "11", STORE, ttl_seconds=400 * 86400)


def test_lines_live_their_whole_life_on_the_scheduler() -> None:
    with serve("sandbox") as server:
        at(server, START.date())
        clerk = add_clerk(server)
        r = server.post("/api/v1/sandbox/platforms", {"name": "story-bank"})
        assert r.status_code == 201, r.text
        key = str(r.json()["api_key"])
        with scheduler(server):
            # The first tick closes the last period that ended and runs today; the lines are
            # imported after it, so their first monthly bill is November's.
            caught_up(server, START.date())
            assert latest(server, "close-cycle") == "2026-10"
            money = {"plan": PLAN_30, "usage_history_fen": [1000, 1000, 1000]}
            recs = {
                # pays every month from a balance that covers it
                "payer": line_record(province="11", owner=owner(), **money,
                                     balance={"cash_fen": 50000, "gift_fen": 0}),
                # November's bill leaves 20 yuan owed: suspended, warned, cancelled, reclaimed
                "bj": line_record(province="11", owner=owner(), **money,
                                  balance={"cash_fen": 1000, "gift_fen": 0}),
                # Guangdong: cancelled after 2 months, the debt written off, back to the pool
                "gd": line_record(province="44", owner=owner(), **money,
                                  balance={"cash_fen": 1000, "gift_fen": 0}),
                # retained today: November's plan fee, then two months of fees, then nothing
                "kept": line_record(province="11", owner=owner(), **money,
                                    balance={"cash_fen": 3500, "gift_fen": 0}),
                # suspended like "bj", then pays online and is active again
                "back": line_record(province="11", owner=owner(), **money,
                                    balance={"cash_fen": 1000, "gift_fen": 0}),
            }  # fmt: skip
            r = server.post("/api/v1/sandbox/lines", list(recs.values()))
            assert r.status_code == 200, r.text
            m = {name: rec["msisdn"] for name, rec in recs.items()}
            everyone = list(m.values())
            assert changed(server, key, everyone) == [False] * 5

            kept = m["kept"]
            token = sign_in(server, kept)
            r = server.post(f"/api/v1/lines/{kept}/retention", token=token,
                            headers={"Idempotency-Key": "story-retain"})  # fmt: skip
            assert r.status_code == 201, r.text
            assert (r.json()["starts_on"], r.json()["months_covered"]) == ("2026-12-01", 1)
            books(server)

            # Every step: (the day, the lines' (status, arrears_since), warnings so far).
            ACTIVE, SUSP, RET, CANC = "active", "arrears_suspended", "retained", "cancelled"
            since = "2026-12-16"
            timetable: list[tuple[dt.date, dict[str, tuple[str, str | None]], dict[str, int]]] = [
                (D(2026, 12, 1), {"bj": (ACTIVE, None), "kept": (RET, None)}, {}),
                (D(2026, 12, 15), {"bj": (ACTIVE, None), "gd": (ACTIVE, None)}, {}),
                (D(2026, 12, 16), {"bj": (SUSP, since), "gd": (SUSP, since),
                                   "back": (SUSP, since)}, {}),
                (D(2026, 12, 20), {}, {}),
                (D(2027, 1, 1), {"kept": (RET, None)}, {}),
                (D(2027, 1, 16), {}, {"gd": 0}),
                (D(2027, 1, 17), {}, {"gd": 1}),
                (D(2027, 2, 1), {"kept": (RET, None)}, {"gd": 1}),
                (D(2027, 2, 9), {}, {"gd": 2}),
                (D(2027, 2, 14), {}, {"gd": 2, "bj": 1}),
                (D(2027, 2, 15), {"kept": (RET, None)}, {"gd": 3, "bj": 1}),
                (D(2027, 2, 16), {"gd": (CANC, since), "kept": (RET, "2027-02-16")},
                 {"gd": 3, "bj": 1}),
                (D(2027, 3, 1), {"bj": (SUSP, since)}, {}),
                (D(2027, 3, 9), {}, {"bj": 2}),
                (D(2027, 3, 15), {"bj": (SUSP, since)}, {"bj": 3}),
                (D(2027, 3, 16), {"bj": (CANC, since)}, {"bj": 3, "kept": 0}),
                (D(2027, 3, 20), {}, {}),
                (D(2027, 4, 1), {"bj": (ACTIVE, None)}, {}),
                (D(2027, 4, 16), {"kept": (RET, "2027-02-16")}, {"kept": 1}),
                (D(2027, 5, 1), {}, {"kept": 1}),
                (D(2027, 5, 9), {}, {"kept": 2}),
                (D(2027, 5, 15), {"kept": (RET, "2027-02-16")}, {"kept": 3}),
                (D(2027, 5, 16), {"kept": (CANC, "2027-02-16")}, {"kept": 3}),
                (D(2027, 5, 20), {}, {}),
            ]  # fmt: skip
            for day, states, warned in timetable:
                at(server, day)
                caught_up(server, day)
                books(server)
                assert state(server, m["payer"]) == (ACTIVE, None), day
                for name, expected in states.items():
                    assert state(server, m[name]) == expected, (day, name)
                for name, count in warned.items():
                    sms_count(server, m[name], "auto_cancel.warning", count)
                story(server, day, m, key, clerk, recs)
                books(server)

            assert latest(server, "close-cycle") == "2027-04"
            # Exactly once each, over the whole life
            for name in ("bj", "gd", "back"):
                sms_count(server, m[name], "arrears.suspended", 1)
            assert not sms(server, m["payer"], "auto_cancel.warning")
            assert not sms(server, m["back"], "auto_cancel.warning")
            warnings = rows(
                server,
                "SELECT l.msisdn, w.days_before FROM lifecycle_warnings w "
                "JOIN lines l ON l.id = w.line_id ORDER BY l.msisdn, w.days_before",
            )
            assert sorted((str(x), int(k)) for x, k in warnings) == sorted(
                (m[n], k) for n in ("bj", "gd", "kept") for k in (1, 7, 30)
            )
            p = [f"2026-{n}" for n in (11, 12)] + [f"2027-0{n}" for n in (1, 2, 3, 4)]
            assert bills(server, m["payer"]) == [(x, "cycle", 3000, 3000, "paid") for x in p]


def story(
    server: Served, day: dt.date, m: dict[str, str], key: str, clerk: str,
    recs: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    """What happens on `day` besides the runs, and what the runs left that the timetable's
    states do not say."""
    if day == D(2026, 12, 1):
        assert latest(server, "close-cycle") == "2026-11"
        assert bills(server, m["bj"]) == [("2026-11", "cycle", 3000, 1000, "unpaid")]
        assert bills(server, m["kept"]) == [("2026-11", "cycle", 3000, 3000, "paid")]
        assert bills(server, m["payer"]) == [("2026-11", "cycle", 3000, 3000, "paid")]
    elif day == D(2026, 12, 20):
        back = m["back"]
        token = sign_in(server, back)
        r = server.post(f"/api/v1/lines/{back}/reactivation", token=token)
        assert r.status_code == 409 and r.json()["code"] == "ARREARS", r.text
        owed = r.json()["amount_fen"]
        assert owed == 2000 and r.json()["remedy"]["href"] == f"/api/v1/lines/{back}/payments"
        # what is owed and a top-up for the months ahead: the payment restores the line
        paid = pay(server, back, owed + 20000, token)
        assert [(a["period"], a["amount_fen"]) for a in paid["applied"]] == [("2026-11", 2000)]
        assert state(server, back) == ("active", None)
        r = server.post(f"/api/v1/lines/{back}/reactivation", token=token)
        assert r.status_code == 409 and r.json()["code"] == "NOT_SUSPENDED", r.text
    elif day == D(2027, 1, 1):
        # December: the suspension month is charged in full; the retention fee from the balance
        assert bills(server, m["gd"])[-1] == ("2026-12", "cycle", 3000, 0, "unpaid")
        assert bills(server, m["kept"])[-1] == ("2026-12", "retention", 500, 500, "paid")
        assert bills(server, m["back"])[-1] == ("2026-12", "cycle", 3000, 3000, "paid")
        assert state(server, m["back"]) == ("active", None)
    elif day == D(2027, 2, 1):
        # January: a whole month of suspension is not billed; the retention fee is not covered
        assert [b[0] for b in bills(server, m["bj"])] == ["2026-11", "2026-12"]
        assert bills(server, m["kept"])[-1] == ("2027-01", "retention", 500, 0, "unpaid")
    elif day == D(2027, 2, 16):
        gd = m["gd"]
        assert number_status(server, gd) == "quarantine"
        assert {b[4] for b in bills(server, gd)} == {"written_off"}
        ((channel,),) = rows(
            server,
            "SELECT c.channel FROM cancellations c JOIN lines l ON l.id = c.line_id "
            "WHERE l.msisdn = :m",
            m=gd,
        )
        assert channel == "auto"
        assert changed(server, key, [gd, m["bj"]]) == [True, False]
        assert changed(server, key, [gd], since="2027-02-17") == [False]
    elif day == D(2027, 3, 1):
        assert [b[0] for b in bills(server, m["bj"])] == ["2026-11", "2026-12"]
        assert [b[0] for b in bills(server, m["gd"])] == ["2026-11", "2026-12"]
    elif day == D(2027, 3, 16):
        bj = m["bj"]
        assert number_status(server, bj) == "quarantine"
        # Beijing keeps the debt as a receivable
        assert bills(server, bj) == [
            ("2026-11", "cycle", 3000, 1000, "unpaid"),
            ("2026-12", "cycle", 3000, 0, "unpaid"),
        ]
        assert changed(server, key, [bj, m["gd"], m["payer"]]) == [True, True, False]
    elif day == D(2027, 3, 20):
        bj = m["bj"]
        rec = recs["bj"]
        stranger = {"owner": {**owner(), "id_type": "resident_id"}}
        url = f"/api/v1/store/numbers/{bj}/reclaim"
        r = server.post(url, {"documents": stranger}, token=clerk,
                        headers={"Idempotency-Key": "story-reclaim-0"})  # fmt: skip
        assert r.status_code == 403 and r.json()["code"] == "NOT_FORMER_OWNER", r.text
        owner_docs = {"documents": {"owner": dict(rec["owner"])}}
        r = server.post(url, owner_docs, token=clerk,
                        headers={"Idempotency-Key": "story-reclaim-1"})  # fmt: skip
        # the closed account's debt first, taken at the counter
        owing = sum(b[2] - b[3] for b in bills(server, bj) if b[4] == "unpaid")
        assert r.status_code == 409 and r.json()["code"] == "ARREARS", r.text
        assert r.json()["amount_fen"] == owing
        assert r.json()["remedy"]["href"] == "/api/v1/store/payments"
        cash = {"msisdn": bj, "amount_fen": owing, "method": "cash"}
        paid = server.post("/api/v1/store/payments", cash, token=clerk)
        assert paid.status_code == 201, paid.text
        r = server.post(url, owner_docs, token=clerk,
                        headers={"Idempotency-Key": "story-reclaim-2"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "active" and r.json()["status_reason"] == "reclaimed"
        assert number_status(server, bj) == "assigned"
        assert changed(server, key, [bj, m["gd"]]) == [False, True]
        assert {b[4] for b in bills(server, bj)} == {"paid"}
        # the former owner tops up for the months ahead
        pay(server, bj, 20000, sign_in(server, bj))
        assert state(server, bj) == ("active", None)
    elif day == D(2027, 4, 1):
        assert bills(server, m["bj"])[-1] == ("2027-03", "cycle", 3000, 3000, "paid")
        assert [b[0] for b in bills(server, m["gd"])] == ["2026-11", "2026-12"]
        assert bills(server, m["kept"])[-1] == ("2027-03", "retention", 500, 0, "unpaid")
    elif day == D(2027, 5, 16):
        kept = m["kept"]
        assert number_status(server, kept) == "quarantine"
        assert number_status(server, m["gd"]) == "quarantine"  # 90 days end on the 17th
        assert [(b[0], b[1], b[4]) for b in bills(server, kept)] == [
            ("2026-11", "cycle", "paid"),
            ("2026-12", "retention", "paid"),
            *((f"2027-0{n}", "retention", "unpaid") for n in (1, 2, 3, 4)),
        ]
        assert changed(server, key, [kept]) == [True]
    elif day == D(2027, 5, 20):
        gd = m["gd"]
        assert number_status(server, gd) == "available"  # back in the pool
        assert changed(server, key, [gd]) == [True]  # its cancellation still stands
        assert changed(server, key, [gd], since="2027-05-20") == [False]
        assert number_status(server, m["bj"]) == "assigned"
        assert state(server, m["bj"]) == ("active", None)
