"""The relay thread of a process: the outboxes of its nodes onto the broker (`relay.relay_node`).

Woken after a commit that wrote to the outbox (`attach` hooks it onto the runtime's outbox
delivery, which every such commit calls or wakes) and sweeping every second anyway: messages
that waited for the broker, and rows other processes wrote, go out without anyone waking it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable

from sqlalchemy.orm import Session

from xiaohu.assembly import interprovince_appliers
from xiaohu.interprovince.service import Appliers
from xiaohu.national.broker import Broker
from xiaohu.national.relay import BATCH, relay_node
from xiaohu.runtime import OutboxDelivery, Runtime

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0


class RelayWorker:
    """One thread relaying the outboxes of `nodes` (default: every node of the map) in turn,
    over one broker connection of its own."""

    def __init__(
        self,
        runtime: Runtime,
        nodes: Iterable[str] | None = None,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
        broker: Broker | None = None,
        appliers: Appliers | None = None,
    ) -> None:
        self.runtime = runtime
        self.nodes = list(nodes) if nodes is not None else runtime.nodes.names()
        self.sweep_seconds = sweep_seconds
        self.broker = broker or Broker.of(runtime.nodes)
        self.appliers = appliers or interprovince_appliers()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing: set[str] = set()  # nodes whose last batch failed (logged once)
        self._attached: tuple[OutboxDelivery, OutboxDelivery] | None = None  # (original, ours)
        self._thread = threading.Thread(target=self._run, name="interprovince-relay", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> RelayWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch under way, then end the thread and its broker connection."""
        self._stop.set()
        self._wake.set()
        if self._attached is not None and self.runtime.outbox_delivery is self._attached[1]:
            self.runtime.outbox_delivery = self._attached[0]
        self._attached = None
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def attach(self) -> None:
        """Wake this relay whenever the runtime delivers its outbox: after each commit that
        wrote one (inline, or by the delivery thread it wakes) and at its sweeps."""
        original = self.runtime.outbox_delivery
        self.runtime.outbox_delivery = waking(original, self)
        self._attached = (original, self.runtime.outbox_delivery)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.drain()
                self._wake.wait(self.sweep_seconds)
                self._wake.clear()
                self.broker.keepalive()
        finally:
            self.broker.close()

    def drain(self) -> int:
        """Relay every node's pending messages until each is empty or stopped at a failure."""
        total = 0
        for node in self.nodes:
            while not self._stop.is_set():
                try:
                    result = relay_node(self.runtime, node, self.broker, self.appliers, BATCH)
                except Exception:  # the node's database is down: its messages wait there
                    if node not in self._failing:  # said once, not at every sweep
                        log.warning("interprovince relay on node %s failed", node, exc_info=True)
                    self._failing.add(node)
                    break
                if node in self._failing:
                    self._failing.discard(node)
                    log.info("interprovince relay on node %s works again", node)
                total += result.delivered
                if result.stopped or result.locked_out or result.delivered < BATCH:
                    break
        return total


def waking(delivery: OutboxDelivery, relay: RelayWorker) -> OutboxDelivery:
    """`delivery`, then a wake-up for the relay (the business commit is already done)."""

    def deliver_and_wake(runtime: Runtime, session: Session, now: dt.datetime, limit: int) -> int:
        try:
            return delivery(runtime, session, now, limit)
        finally:
            relay.wake()

    return deliver_and_wake
