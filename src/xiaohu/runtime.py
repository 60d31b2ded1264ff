"""What one running process holds: settings, engine, session factory, policy, keys, gateways.

Built by `assembly.build_runtime()` at start-up (never at import); the app, the CLI and the
tests each build their own. `Context` is what a unit of work hands to services. This module
imports none of the areas: what it holds from them is typed by interfaces (`xiaohu.gateways`,
`SignInLimits`) or handed in as functions (the outbox delivery, the test clock).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from xiaohu.config import Settings
from xiaohu.gateways import PaymentGateway, ProvisioningGateway, SmsGateway
from xiaohu.kit.clock import Clock, LazyClock, SystemClock, local_date
from xiaohu.kit.crypto import PiiCipher
from xiaohu.kit.db import make_engine, session_factory, transaction
from xiaohu.nodemap import NodeMap, NodeMapProblem, single
from xiaohu.nodemap import load as load_node_map
from xiaohu.policy.schema import Policy, Values

log = logging.getLogger(__name__)
T = TypeVar("T")
SWEEP_SECONDS = 2.0  # the delivery thread looks for messages due again at least this often
GATHER_SECONDS = 0.02  # after a wake-up, the delivery thread waits this long for more


@dataclass
class PolicyMemo:
    """Merged policy values per (policy id, province, day) and the fingerprint per policy id;
    each entry keeps its policy object, so a policy swapped on the runtime is never mistaken for
    the one before (its id cannot be reused while the entry lives)."""

    values: dict[tuple[int, str, dt.date], tuple[Policy, Values]] = field(default_factory=dict)
    fingerprints: dict[int, tuple[Policy, str]] = field(default_factory=dict)


class SignInLimits(Protocol):
    """Per-client limits on sign-in (`identity.limits.ClientLimits`): count a request or refuse
    it with a DomainError."""

    def hit_otp(self, client: str) -> None: ...

    def hit_token(self, client: str) -> None: ...


# Delivers what is due in the outbox on the runtime's gateways (read at each call, so a test may
# swap one), in `session` as of `now`, at most `limit`; returns how many.
OutboxDelivery = Callable[["Runtime", Session, dt.datetime, int], int]
# The sandbox's pinned time, if one is set (`sandbox.service.read_test_clock`).
TestClockReader = Callable[[Session], dt.datetime | None]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    cipher: PiiCipher
    # The outside systems, each selected by a setting (`build_runtime`).
    sms_gateway: SmsGateway
    provisioning_gateway: ProvisioningGateway
    payment_gateway: PaymentGateway
    # What the areas above lend the runtime (`assembly.build_runtime`).
    outbox_delivery: OutboxDelivery
    read_test_clock: TestClockReader
    system_clock: Clock = field(default_factory=SystemClock)
    outbox_worker: OutboxWorker | None = None
    sandbox_gateways: bool = True  # any outside system is a sandbox implementation
    client_limits: SignInLimits | None = None  # per-client sign-in limits (identity.limits)
    # The policy terms the hot path prices with, memoised per runtime (`cancellation.terms`).
    policy_memo: PolicyMemo = field(default_factory=PolicyMemo, repr=False)
    # Which node holds which provinces (`xiaohu.nodemap`); `engine` and `sessions` above are
    # this runtime's node: the default node's, or the one `on_node` chose.
    node_map: NodeMap | None = None
    node: str = ""  # set in __post_init__: the map's default node
    _engines: dict[str, Engine] = field(default_factory=dict, repr=False)
    _sessions: dict[str, sessionmaker[Session]] = field(default_factory=dict, repr=False)
    # The map file watched for a province move (shared by the `on_node` copies).
    _map_watch: MapWatch | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.node_map is None:
            self.node_map = single(self.engine.url.render_as_string(hide_password=False))
        if not self.node:
            self.node = self.node_map.default
        if self._map_watch is None and self.node_map.source is not None:
            self._map_watch = MapWatch(self.node_map)

    @property
    def nodes(self) -> NodeMap:
        if self._map_watch is not None:
            return self._map_watch.current()
        if self.node_map is None:  # set in __post_init__
            raise RuntimeError("the runtime has no node map")
        return self.node_map

    def node_of(self, province_code: str) -> str:
        return self.nodes.node_of(province_code).name

    def engine_of(self, node: str) -> Engine:
        """The engine of `node`, made on first use (a node's server may be down at start-up:
        its provinces answer NODE_UNAVAILABLE until it is back, the others never notice)."""
        if node == self.node:
            return self.engine
        engine = self._engines.get(node)
        if engine is None:
            url = self.nodes.node(node).database_url
            engine = make_engine(url, **_node_engine_options(url))
            engine = self._engines.setdefault(node, engine)
        return engine

    def sessions_of(self, node: str) -> sessionmaker[Session]:
        if node == self.node:
            return self.sessions
        factory = self._sessions.get(node)
        if factory is None:
            factory = self._sessions.setdefault(node, session_factory(self.engine_of(node)))
        return factory

    def sessions_for(self, province_code: str) -> sessionmaker[Session]:
        """The session factory of the node holding `province_code`."""
        return self.sessions_of(self.node_of(province_code))

    def on_node(self, node: str) -> Runtime:
        """This runtime on `node`'s database: the same gateways, policy and keys, and the same
        engines for every node (a run over one node's provinces, a consumer of its queues)."""
        if node == self.node:
            return self
        # The copy finds this runtime's node in the shared tables (and this one its own
        # engine in `engine`, so a test that swaps it is heard).
        self._engines.setdefault(self.node, self.engine)
        self._sessions.setdefault(self.node, self.sessions)
        return replace(
            self,
            engine=self.engine_of(node),
            sessions=self.sessions_of(node),
            node=node,
            outbox_worker=None,
            _engines=self._engines,
            _sessions=self._sessions,
        )

    def on_every_node(self, work: Callable[[Runtime], T]) -> dict[str, T]:
        """`work` on each node at once, a thread each (a node's run is its own server's work,
        so N nodes take the time of the slowest, not the sum), by node in the map's order. A
        node that fails does not stop the others: its error is raised when all have ended."""
        runtimes = self.each_node()
        with ThreadPoolExecutor(len(runtimes), thread_name_prefix="node") as pool:
            futures = {rt.node: pool.submit(work, rt) for rt in runtimes}
        return {node: future.result() for node, future in futures.items()}

    def each_node(self) -> list[Runtime]:
        """This runtime on each node in the map's order (one node: itself)."""
        return [self.on_node(name) for name in self.nodes.names()]

    def outbox_written(self, node: str | None = None) -> None:
        """A unit of work committed outbox messages (on `node`, default this runtime's):
        deliver them now (`inline`), or wake the delivery thread (`background`) so the request
        does not wait for the gateways."""
        worker = self.outbox_worker
        if worker is not None and not self.settings.outbox_inline:
            worker.wake()
            return
        try:
            self.deliver_outbox(node=node or self.node)
        except Exception:  # retried by the delivery thread; the request already succeeded
            log.exception("outbox delivery after commit failed")

    def start_outbox_worker(self) -> OutboxWorker:
        """Start this process's one delivery thread (idempotent); `stop_outbox_worker` ends it."""
        if self.outbox_worker is None or not self.outbox_worker.alive:
            self.outbox_worker = OutboxWorker(self)
            self.outbox_worker.start()
        return self.outbox_worker

    def stop_outbox_worker(self) -> None:
        worker, self.outbox_worker = self.outbox_worker, None
        if worker is not None:
            worker.stop()

    def deliver_outbox(self, limit: int = 200, *, node: str | None = None) -> int:
        """Deliver pending side effects in a transaction of their own (after the business
        transaction committed), on `node`, or on every node of the map in turn (the delivery
        thread's sweep). Safe to call from anywhere, any number of times."""
        names = [node] if node is not None else self.nodes.names()
        done = 0
        for name in names:
            try:
                with transaction(self.sessions_of(name)) as session:
                    now = self.clock_for(session).now()
                    done += self.outbox_delivery(self.on_node(name), session, now, limit)
            except Exception:
                if node is not None or len(names) == 1:
                    raise
                # One node down holds back only its own outbox; the sweep retries it.
                log.warning("outbox delivery on node %s failed", name, exc_info=True)
        return done

    def clock_for(self, session: Session) -> Clock:
        """Production: the system clock. Sandbox: the test clock when one is set."""
        if not self.settings.sandbox:
            return self.system_clock
        return LazyClock(lambda: self.read_test_clock(session), self.system_clock)

    def context(self, session: Session, actor: str = "system") -> Context:
        return Context(self, session, self.clock_for(session), actor)


class MapWatch:
    """The node map, read again from its file when the file changes: a province move marks
    the province as moving, then switches it to its new node, by writing the file (atomically)
    and every process follows. The file's mtime is looked at most once every
    `CHECK_SECONDS`, so a request pays a stat() a second at most, not one each."""

    CHECK_SECONDS = 1.0

    def __init__(self, node_map: NodeMap) -> None:
        if node_map.source is None:
            raise ValueError("a node map read from a file")
        self.path = node_map.source
        self._map = node_map
        self._mtime = self._stat()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _stat(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> NodeMap:
        now = time.monotonic()
        if now - self._checked < self.CHECK_SECONDS:
            return self._map
        with self._lock:
            if now - self._checked < self.CHECK_SECONDS:
                return self._map
            self._checked = now
            mtime = self._stat()
            if mtime is None or mtime == self._mtime:
                return self._map
            try:
                fresh = load_node_map(self.path)
            except NodeMapProblem:
                # A broken edit keeps the map the process has; said once per change.
                log.exception("node map %s changed but cannot be used; keeping the last", self.path)
            else:
                if fresh.names() != self._map.names() or fresh.default != self._map.default:
                    log.warning("node map %s: nodes changed; restart to use them", self.path)
                else:
                    self._map = fresh
                    log.info("node map %s read again", self.path)
            self._mtime = mtime
            return self._map


def _node_engine_options(url: str) -> dict[str, object]:
    """A node that cannot be reached should fail a request in seconds, not hang it."""
    return {"connect_args": {"connect_timeout": 3}} if url.startswith("postgresql") else {}


class OutboxWorker:
    """The one delivery thread of a process. Woken after a commit that wrote to the outbox
    (or every `SWEEP_SECONDS`, to retry failures whose backoff has passed and pick up other
    processes' leftovers), it delivers everything due in batches, many per transaction."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.sweep_seconds = sweep_seconds
        self.gather_seconds = gather_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch under way, then end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.sweep_seconds)
            if self._stop.is_set():
                break
            # Let a burst of commits pile up: one batch for many requests costs one
            # transaction instead of one each. An SMS a few milliseconds later is no loss.
            self._stop.wait(self.gather_seconds)
            self._wake.clear()
            self.drain()

    def drain(self, limit: int = 500) -> int:
        """Deliver until a batch comes back short (what is left keeps failing, or is new and
        has woken the thread again)."""
        total = 0
        try:
            while not self._stop.is_set():
                done = self.runtime.deliver_outbox(limit=limit)
                total += done
                if done < limit:
                    break
        except Exception:  # keep the thread alive: the next sweep retries
            log.exception("outbox delivery failed")
        return total


@dataclass
class Context:
    """A unit of work: the session (owned by the caller), the clock, the policy, the actor."""

    runtime: Runtime
    session: Session
    clock: Clock
    actor: str = "system"

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def cipher(self) -> PiiCipher:
        return self.runtime.cipher

    def now(self) -> dt.datetime:
        return self.clock.now()

    def policy_for(self, province_code: str) -> Values:
        return self.runtime.policy.for_province(province_code, local_date(self.now()))
