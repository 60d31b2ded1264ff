"""The consumer: messages from the provinces' queues, applied once on the node holding each.

For each delivery: read the wire form, open a transaction on the node of `to_province`
(`runtime.sessions_for`), `receive` it (applied once: the inbox `interprovince_applied`),
commit, and only then acknowledge. A process killed between the commit and the ack has the
message delivered again, and the inbox drops it.

A message that cannot be applied yet (the node's database is down, no applier for its kind in
this version, any other failure) is kept, unacknowledged, and tried again after a pause; the
messages of its queue that arrive meanwhile (at most the prefetch) are held behind it and applied
after it, in order. Neither a negative acknowledgement nor closing the channel would do: the
broker may then deliver a later message of the queue before the one handed back. The other
provinces' queues go on meanwhile. A message that can never be applied (malformed)
is logged, counted (`Consumer.malformed`) and acknowledged, so it does not stop its province.

Every process may consume every queue: single active consumer delivers a queue to one of them
at a time, and another takes over when it goes away. A lost broker connection is made again
with a backoff; `stop()` ends the loop after the message under way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from xiaohu.assembly import interprovince_appliers
from xiaohu.interprovince.rules import MalformedMessage, Message
from xiaohu.interprovince.service import Appliers, UnknownKind, receive
from xiaohu.kit.db import transaction
from xiaohu.national.broker import Broker, queue_name
from xiaohu.runtime import Runtime

log = logging.getLogger(__name__)

PREFETCH = 50
RETRY_SECONDS = 1.0  # a message that failed is tried again after this pause
RETRY_CAP_SECONDS = 15.0  # ... doubling while it keeps failing, up to this
UNKNOWN_KIND_SECONDS = 30.0  # this version has no applier: an upgrade is on its way
RECONNECT_CAP_SECONDS = 30.0


class Consumer:
    """Consumes the queues of `provinces` (default: every province of the map) and applies
    what arrives. `run()` loops until `stop()`; `start()` runs it on a thread of its own."""

    def __init__(
        self,
        runtime: Runtime,
        provinces: Iterable[str] | None = None,
        *,
        appliers: Appliers | None = None,
        prefetch: int = PREFETCH,
    ) -> None:
        self.runtime = runtime
        nodes = runtime.nodes
        self.provinces = sorted(
            provinces if provinces is not None else {p for n in nodes for p in n.provinces}
        )
        self.appliers = appliers or interprovince_appliers()
        self.prefetch = prefetch
        self.broker = Broker.of(nodes)
        self.applied = 0  # applied now (not a redelivery the inbox dropped)
        self.duplicates = 0
        self.malformed = 0  # dropped as never appliable; each one logged at error level
        self._stop = threading.Event()
        self._retry: dict[str, float] = {}  # queue → its current pause after failures
        # queue → the deliveries waiting behind one that failed, in order, unacknowledged
        self._held: dict[str, deque[tuple[Any, Any, bytes]]] = {}
        self._thread: threading.Thread | None = None

    # The thread a served process runs it on.
    def start(self) -> Consumer:
        self._thread = threading.Thread(target=self.run, name="interprovince-consumer", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def run(self) -> None:
        """Consume until stopped; a lost connection is made again after a growing pause."""
        pause = 0.5
        while not self._stop.is_set():
            try:
                connection = self.broker.connect()
                self._held.clear()  # a new connection: the old one's deliveries went back
                for code in self.provinces:
                    self._subscribe(connection, code)
                pause = 0.5
                while not self._stop.is_set():
                    connection.process_data_events(time_limit=0.5)
            except Exception as exc:  # the broker (or its connection) failed: connect again
                if self._stop.is_set():
                    break
                log.warning("interprovince consumer: %s; again in %.1fs", exc, pause)
                self.broker.close()
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT_CAP_SECONDS)
        self.broker.close()

    def _subscribe(self, connection: Any, code: str) -> None:
        """A channel of its own for the queue of province `code`, so its prefetch is the
        queue's own: a queue held behind a failed message does not starve the others."""
        if self._stop.is_set() or not connection.is_open:
            return
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self.prefetch)
        channel.basic_consume(
            queue_name(self.broker.namespace, code),
            lambda ch, method, props, body: self._on_message(connection, code, ch, method, body),
        )

    def _on_message(
        self, connection: Any, code: str, channel: Any, method: Any, body: bytes
    ) -> None:
        if self._stop.is_set():  # leave it for the next consumer: returned when we close
            return
        held = self._held.get(code)
        if held is not None:  # the queue waits behind a message that failed: keep the order
            held.append((channel, method, body))
            return
        pause = self._apply(code, channel, method, body)
        if pause is not None:
            self._held[code] = deque([(channel, method, body)])
            connection.call_later(pause, lambda: self._retry_held(connection, code))

    def _retry_held(self, connection: Any, code: str) -> None:
        """Apply the queue's held messages in order, until one fails again (held on, tried
        after its pause) or none is left (the queue flows again)."""
        held = self._held.get(code)
        while held and not self._stop.is_set():
            channel, method, body = held[0]
            if not channel.is_open:  # the broker took them back with the channel: redelivered
                break
            pause = self._apply(code, channel, method, body)
            if pause is not None:
                connection.call_later(pause, lambda: self._retry_held(connection, code))
                return
            held.popleft()
        self._held.pop(code, None)

    def _apply(self, code: str, channel: Any, method: Any, body: bytes) -> float | None:
        """Apply one delivery and acknowledge it: None. Or the pause before trying it again,
        unacknowledged, with every later message of its queue held behind it."""
        try:
            message = Message.from_wire(json.loads(body))
        except (ValueError, MalformedMessage) as exc:
            self._drop(channel, method, code, f"unreadable message: {exc}")
            return None
        try:
            with transaction(self.runtime.sessions_for(message.to_province)) as session:
                now = self.runtime.clock_for(session).now()
                fresh = receive(session, self.appliers, message, now)
        except MalformedMessage as exc:
            self._drop(channel, method, code, f"message {message.id} refused: {exc}")
            return None
        except UnknownKind as exc:
            log.warning("interprovince %s waits: %s", message.id, exc)
            return UNKNOWN_KIND_SECONDS
        except Exception as exc:  # its node is down (or another failure): it waits for it
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("interprovince %s waits for province %s: %s", message.id,
                        message.to_province, first)  # fmt: skip
            pause = self._retry.get(code, RETRY_SECONDS)
            self._retry[code] = min(pause * 2, RETRY_CAP_SECONDS)
            return pause
        self._retry.pop(code, None)
        channel.basic_ack(method.delivery_tag)
        if fresh:
            self.applied += 1
        else:
            self.duplicates += 1
        return None

    def _drop(self, channel: Any, method: Any, code: str, why: str) -> None:
        self.malformed += 1
        log.error("interprovince queue %s: %s; dropped (%d so far)", code, why, self.malformed)
        channel.basic_ack(method.delivery_tag)
