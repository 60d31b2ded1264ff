"""The work the clients do, as a subscriber and a clerk would over HTTP.

Four kinds of operation:
- `check`: the online cancellation check, `GET /api/v1/lines/{msisdn}/cancellation-check`;
- `cancel`: the online cancellation, that check then `POST /api/v1/cancellations` with its
  quote (refund to the original route);
- `cash_in`: a clerk at a store of another province takes a cash top-up for the line
  (`POST /api/v1/store/payments`): the line's province owes the store's, a message between them;
- `cash_out`: a clerk at a store of another province cancels the line with the balance paid
  out in cash (`POST /api/v1/store/cancellation-checks`, then `/store/cancellations`): the
  store's province is owed the cash, a message the other way.
An operation counts when every request of it succeeded (200/201); the rest count as failed.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

KINDS = ("check", "cancel", "cash_in", "cash_out")


@dataclass
class Work:
    """The lines for each kind (a cancelled line is taken from its pool once) and the tokens."""

    check: list[str]
    pay: list[str]
    cancel: collections.deque[str]
    cash_out: collections.deque[str]
    line_token: dict[str, str]
    clerk_token: dict[str, str]  # province of the store → token
    store_of: dict[str, str]  # msisdn → province of the store for its cross-region work
    record: dict[str, dict[str, Any]]


@dataclass
class Tally:
    """What the clients did in one timed phase."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    exhausted: set[str] = field(default_factory=set)
    sample_failure: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def fail(self, kind: str, why: str) -> None:
        with self.lock:
            self.failed[kind] += 1
            if not self.sample_failure:
                self.sample_failure = f"{kind}: {why[:400]}"

    def done(self) -> int:
        return sum(len(v) for v in self.latency.values())


class Exhausted(Exception):
    """The pool of lines for a kind ran out."""


class Failed(Exception):
    pass


def _json(r: httpx2.Response, *expected: int) -> Any:
    if r.status_code not in expected:
        raise Failed(f"{r.request.method} {r.request.url.path} → {r.status_code} {r.text}")
    return r.json()


def _post(http: httpx2.Client, path: str, body: Any, token: str, key: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return http.post(path, content=json.dumps(body, ensure_ascii=False), headers=headers)


def _take(pool: collections.deque[str]) -> str:
    try:
        return pool.popleft()
    except IndexError:
        raise Exhausted from None


def op_check(http: httpx2.Client, w: Work, rng: random.Random) -> None:
    m = rng.choice(w.check)
    r = http.get(
        f"/api/v1/lines/{m}/cancellation-check",
        headers={"Authorization": f"Bearer {w.line_token[m]}"},
    )
    _json(r, 200)


def op_cancel(http: httpx2.Client, w: Work, rng: random.Random) -> None:
    m = _take(w.cancel)
    token = w.line_token[m]
    check = _json(
        http.get(
            f"/api/v1/lines/{m}/cancellation-check", headers={"Authorization": f"Bearer {token}"}
        ),
        200,
    )
    if not check.get("eligible") or not check.get("quote"):
        raise Failed(f"not eligible: {json.dumps(check)[:300]}")
    owner = w.record[m]["owner"]
    body = {
        "msisdn": m,
        "quote_id": check["quote"]["quote_id"],
        "real_name": {"name": owner["name"], "id_number": owner["id_number"]},
        "refund_route": {"kind": "original"},
        "acknowledged_warnings": [x["code"] for x in check.get("warnings", [])],
    }
    _json(_post(http, "/api/v1/cancellations", body, token, key=True), 201)


def op_cash_in(http: httpx2.Client, w: Work, rng: random.Random) -> None:
    m = rng.choice(w.pay)
    body = {"msisdn": m, "amount_fen": 5000, "method": "cash"}
    _json(_post(http, "/api/v1/store/payments", body, w.clerk_token[w.store_of[m]], key=True), 201)


def op_cash_out(http: httpx2.Client, w: Work, rng: random.Random) -> None:
    m = _take(w.cash_out)
    clerk = w.clerk_token[w.store_of[m]]
    documents = {"owner": dict(w.record[m]["owner"])}
    check = _json(
        _post(http, "/api/v1/store/cancellation-checks", {"msisdn": m, "documents": documents},
              clerk),
        200,
    )  # fmt: skip
    if not check.get("eligible") or not check.get("quote"):
        raise Failed(f"not eligible at the counter: {json.dumps(check)[:300]}")
    body = {
        "msisdn": m,
        "quote_id": check["quote"]["quote_id"],
        "documents": documents,
        "refund_route": {"kind": "cash"},
        "acknowledged_warnings": [x["code"] for x in check.get("warnings", [])],
    }
    _json(_post(http, "/api/v1/store/cancellations", body, clerk, key=True), 201)


OPS: dict[str, Callable[[httpx2.Client, Work, random.Random], None]] = {
    "check": op_check,
    "cancel": op_cancel,
    "cash_in": op_cash_in,
    "cash_out": op_cash_out,
}


def drive(
    bases: list[str],
    work: Work,
    mix: dict[str, float],
    clients: int,
    seconds: float,
    tally: Tally,
    seed: int,
    pause: float = 0.0,
) -> float:
    """`clients` threads, each on one app process in turn (as a load balancer would spread
    connections), doing operations drawn from `mix` until `seconds` have passed, `pause`
    seconds apart (0: flat out); returns the elapsed time. A kind whose lines ran out stops
    being drawn."""
    stop = time.monotonic() + seconds
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        live = list(kinds)
        with httpx2.Client(base_url=bases[n % len(bases)], timeout=30) as http:
            while live and time.monotonic() < stop:
                kind = rng.choices(live, [mix[k] for k in live])[0]
                t0 = time.perf_counter()
                try:
                    OPS[kind](http, work, rng)
                except Exhausted:
                    live.remove(kind)
                    with tally.lock:
                        tally.exhausted.add(kind)
                    continue
                except Exception as exc:  # a failed operation, counted; the client goes on
                    tally.fail(kind, f"{type(exc).__name__}: {exc}")
                    continue
                tally.ok(kind, time.perf_counter() - t0)
                if pause:
                    time.sleep(pause)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0
