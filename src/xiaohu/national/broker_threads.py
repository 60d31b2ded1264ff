"""The broker's threads of a process: the outbox relay and the consumer (`national.relay`,
`national.consumer`). `xiaohu serve` runs them in a national deployment, unless
XIAOHU_BROKER_THREADS=false leaves them to `xiaohu consume` processes; `xiaohu consume` runs
them in the foreground for one node's provinces, or for all."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from xiaohu.national.consumer import Consumer
from xiaohu.national.relay_worker import RelayWorker
from xiaohu.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class BrokerThreads:
    relay: RelayWorker
    consumer: Consumer

    def stop(self, timeout: float = 10.0) -> None:
        """The consumer first (what it holds goes back to the queues), then the relay."""
        self.consumer.stop(timeout)
        self.relay.stop(timeout)


def wanted(runtime: Runtime) -> bool:
    """A served process runs the threads: the map is national and the setting allows it."""
    return runtime.nodes.national and runtime.settings.broker_threads


def start_broker_threads(
    runtime: Runtime, nodes: Iterable[str] | None = None, provinces: Iterable[str] | None = None
) -> BrokerThreads:
    """The relay of `nodes`' outboxes (default every node) woken by the runtime's commits,
    and a consumer of `provinces`' queues (default every province)."""
    relay = RelayWorker(runtime, nodes)
    relay.attach()
    relay.start()
    consumer = Consumer(runtime, provinces).start()
    log.info(
        "broker threads: relay of node(s) %s, consumer of %d province queue(s)",
        ", ".join(relay.nodes),
        len(consumer.provinces),
    )
    return BrokerThreads(relay, consumer)
