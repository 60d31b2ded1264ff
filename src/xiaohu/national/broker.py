"""The broker between nodes: RabbitMQ through one pika BlockingConnection per thread.

The names (README, "Messages between nodes (RabbitMQ)"): a direct durable exchange
`<ns>.interprovince`, and per province a quorum queue `<ns>.province.<code>` bound to it with
the province code as routing key. Quorum queues are replicated and durable; single active
consumer lets many processes subscribe to a queue while exactly one receives, in order, so a
province's messages are applied in the order they were published and a standby takes over
when the active one dies. `<ns>` is the node map's `broker_namespace`.

Every queue of every province is declared before anything is published: a message published
to a routing key no queue is bound to would be confirmed by the broker and silently dropped
(`mandatory` turns that into an error too). Declaring is idempotent.

A pika connection belongs to the thread that made it: the relay and the consumer each hold
their own `Broker`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import pika
from pika.exceptions import AMQPError

from xiaohu.interprovince.rules import Message
from xiaohu.nodemap import NodeMap
from xiaohu.regions.provinces import PROVINCES

log = logging.getLogger(__name__)
# pika logs every refused connection at error level with a traceback; the relay and consumer
# say it once themselves, in one line, while they wait for the broker.
logging.getLogger("pika").setLevel(logging.CRITICAL)

QUEUE_ARGUMENTS = {"x-queue-type": "quorum", "x-single-active-consumer": True}
HEARTBEAT_SECONDS = 15  # a broker gone silent is noticed within two of these
CONNECT_TIMEOUT_SECONDS = 5.0
BLOCKED_TIMEOUT_SECONDS = 30.0  # a broker out of memory or disk blocks publishers: give up then
# After a failed connection, wait this long before the next try (doubling up to the cap), so a
# sweep every second does not hammer a broker that is down.
RETRY_FIRST_SECONDS = 0.5
RETRY_CAP_SECONDS = 5.0


class BrokerUnavailable(Exception):
    """The broker could not take the message (down, unreachable, refused, unconfirmed): the
    outbox row stays pending and is published again later."""


def exchange_name(namespace: str) -> str:
    return f"{namespace}.interprovince"


def queue_name(namespace: str, province_code: str) -> str:
    return f"{namespace}.province.{province_code}"


def connection_parameters(url: str) -> pika.URLParameters:
    """The map's `broker_url`, with the timeouts a relay needs unless the URL sets its own."""
    params = pika.URLParameters(url)
    query = url.partition("?")[2]
    if "heartbeat" not in query:
        params.heartbeat = HEARTBEAT_SECONDS
    if "socket_timeout" not in query:
        params.socket_timeout = CONNECT_TIMEOUT_SECONDS
    if "blocked_connection_timeout" not in query:
        params.blocked_connection_timeout = BLOCKED_TIMEOUT_SECONDS
    params.connection_attempts = 1  # our own loop retries, with its backoff
    return params


def body_of(message: Message) -> bytes:
    return json.dumps(message.as_wire(), ensure_ascii=False, separators=(",", ":")).encode()


class Broker:
    """A connection to the broker, made on first use and again after a failure; the exchange
    and every province queue declared on each new connection."""

    def __init__(self, url: str, namespace: str, provinces: Iterable[str] = PROVINCES) -> None:
        self.url = url
        self.namespace = namespace
        self.exchange = exchange_name(namespace)
        self.provinces = sorted(provinces)
        self._connection: Any = None
        self._channel: Any = None
        self._retry_at = 0.0
        self._retry_after = RETRY_FIRST_SECONDS

    @classmethod
    def of(cls, nodes: NodeMap) -> Broker:
        if nodes.broker_url is None:
            raise ValueError("the node map names no broker_url")
        return cls(nodes.broker_url, nodes.broker_namespace)

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.is_open

    def connect(self) -> Any:
        """The open connection (made now if needed); BrokerUnavailable while the broker is
        down, and without trying again before the backoff has passed."""
        if self.connected and self._channel is not None and self._channel.is_open:
            return self._connection
        self.close()
        if time.monotonic() < self._retry_at:
            raise BrokerUnavailable("broker unreachable (waiting before the next try)")
        try:
            connection = pika.BlockingConnection(connection_parameters(self.url))
            try:
                channel = connection.channel()
                declare(channel, self.namespace, self.provinces)
                channel.confirm_delivery()
            except BaseException:
                _quietly_close(connection)
                raise
        except (AMQPError, OSError) as exc:
            self._retry_at = time.monotonic() + self._retry_after
            self._retry_after = min(self._retry_after * 2, RETRY_CAP_SECONDS)
            raise BrokerUnavailable(f"broker unreachable: {_describe(exc)}") from exc
        self._connection, self._channel = connection, channel
        self._retry_after = RETRY_FIRST_SECONDS
        log.info("connected to the broker (namespace %s)", self.namespace)
        return connection

    def publish(self, message: Message) -> None:
        """Publish `message` to its province's queue and return once the broker confirmed it
        (stored on the quorum's majority); BrokerUnavailable otherwise."""
        self.connect()
        props = pika.BasicProperties(
            delivery_mode=2,
            content_type="application/json",
            message_id=message.id,
            type=message.kind,
        )
        try:
            self._channel.basic_publish(
                self.exchange,
                message.to_province,
                body_of(message),
                properties=props,
                mandatory=True,  # no queue for the key: an error, not a silent drop
            )
        except (AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(f"not confirmed by the broker: {_describe(exc)}") from exc

    def keepalive(self) -> None:
        """Let the connection answer the broker's heartbeats between publishes (a blocking
        connection only does so while it is called)."""
        if not self.connected:
            return
        try:
            self._connection.process_data_events(0)
        except (AMQPError, OSError) as exc:
            log.warning("broker connection lost: %s", _describe(exc))
            self.close()

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            _quietly_close(connection)


def declare(channel: Any, namespace: str, provinces: Iterable[str]) -> None:
    """The exchange and the provinces' queues and bindings (idempotent)."""
    exchange = exchange_name(namespace)
    channel.exchange_declare(exchange, exchange_type="direct", durable=True)
    for code in provinces:
        queue = queue_name(namespace, code)
        channel.queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
        channel.queue_bind(queue, exchange, routing_key=code)


def delete_topology(url: str, namespace: str, provinces: Iterable[str] = PROVINCES) -> None:
    """Remove a namespace's queues and exchange (a test run's, a retired deployment's)."""
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        for code in provinces:
            channel.queue_delete(queue_name(namespace, code))
        channel.exchange_delete(exchange_name(namespace))
    finally:
        _quietly_close(connection)


def _quietly_close(connection: Any) -> None:
    try:
        if connection.is_open:
            connection.close()
    except (AMQPError, OSError):
        pass


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
