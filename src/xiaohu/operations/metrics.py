"""Prometheus metrics: requests and refusals counted as they happen, the outbox and the failed
payouts read from the database when scraped.

One registry per app (not the library's global one), so each app a test builds counts from
zero. Counters live in the memory of the process that served the request: with several
server processes each has its own, and the scraper adds them up per instance.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from xiaohu.operations.service import store_gauges
from xiaohu.runtime import Runtime

# Seconds; the check answers in about a millisecond, a cancellation in tens.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "xiaohu_http_request_duration_seconds",
            "Requests by route template, method and status, and how long they took",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "xiaohu_refusals",
            "Problem answers (application/problem+json) by their code",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(runtime))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).observe(seconds)

    def refused(self, code: str) -> None:
        self.refusals.labels(code).inc()


class StoreCollector(Collector):
    """Read at scrape time with two cheap queries (`operations.service.store_gauges`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "xiaohu_database_up", "1 when the scrape could read the database, else 0"
        )
        try:
            gauges = store_gauges(self.runtime)
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "xiaohu_outbox_messages",
            "Outbox messages not delivered, by topic and status (pending: on their way; "
            "dead: given up, the operator's)",
            labels=["topic", "status"],
        )
        age = GaugeMetricFamily(
            "xiaohu_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox message, by topic",
            labels=["topic"],
        )
        for (topic, status), count in sorted(gauges.outbox.items()):
            depth.add_metric([topic, status], count)
        for topic, seconds in sorted(gauges.oldest_pending.items()):
            age.add_metric([topic], seconds)
        failed = GaugeMetricFamily(
            "xiaohu_refund_payouts_failed",
            "Refunds whose payout failed and waits for `xiaohu refunds retry`",
        )
        failed.add_metric([], gauges.payouts_failed)
        failed_fen = GaugeMetricFamily(
            "xiaohu_refund_payouts_failed_fen", "What the failed payouts owe, in fen"
        )
        failed_fen.add_metric([], gauges.payouts_failed_fen)
        yield from (depth, age, failed, failed_fen)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # no query when the collector is registered
