"""/metrics: requests by route template, refusals by code, the outbox and failed payouts."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from tests.cancellation.support import request_for
from tests.conftest import TEST_KEY, test_settings
from tests.factories import line_record, load, msisdn
from xiaohu.app import create_app
from xiaohu.assembly import build_runtime
from xiaohu.billing.models import Refund
from xiaohu.cancellation import service
from xiaohu.notifications.models import OutboxMessage
from xiaohu.principals import issue
from xiaohu.runtime import Context, Runtime

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return value(samples, "xiaohu_http_request_duration_seconds_count", **labels)


def test_requests_and_refusals_are_counted_by_route_and_code(client: TestClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    for _ in range(2):
        assert client.get(f"/api/v1/lines/{msisdn()}").status_code == 401
    assert client.get("/nowhere").status_code == 404
    # A refusal of 100+ KiB: the import reports at most 1,000 errors, each naming a long field.
    invalid = [{f"unknown {'x' * 500} {i}": 1} for i in range(2000)]
    big = client.post("/api/v1/sandbox/lines", json=invalid)
    assert big.status_code == 422 and len(big.content) > 100_000, big.status_code
    after = scrape(client)

    assert requests(after, "/healthz", "200") - requests(before, "/healthz", "200") == 3
    route = "/api/v1/lines/{msisdn}"
    assert requests(after, route, "401") - requests(before, route, "401") == 2
    assert requests(after, "<unmatched>", "404") - requests(before, "<unmatched>", "404") == 1
    refusals = "xiaohu_refusals_total"
    assert (
        value(after, refusals, code="UNAUTHENTICATED")
        - value(before, refusals, code="UNAUTHENTICATED")
        == 2
    )
    assert value(after, refusals, code="NOT_FOUND") - value(before, refusals, code="NOT_FOUND") == 1
    assert value(after, refusals, code="OK") == 0  # a success is no refusal
    code = big.json()["code"]
    assert value(after, refusals, code=code) - value(before, refusals, code=code) == 1
    # Latency is observed: the sum of the healthz durations grew.
    name = "xiaohu_http_request_duration_seconds_sum"
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(after, name, **labels) > value(before, name, **labels)
    # No raw path is ever a label.
    assert not [key for key in after if any(v.startswith("/api/v1/lines/1") for _, v in key[1])]


def test_outbox_depth_and_age_and_failed_payouts_are_read_when_scraped(
    client: TestClient, ctx: Context
) -> None:
    later = ctx.now() + dt.timedelta(minutes=10)
    assert client.put("/api/v1/sandbox/clock", json={"now": later.isoformat()}).status_code == 200
    before = scrape(client)
    assert value(before, "xiaohu_database_up") == 1

    rec = line_record(balance={"cash_fen": 20000, "gift_fen": 0})
    load(ctx, rec)
    service.cancel(ctx, rec["msisdn"], request_for(rec, service.check(ctx, rec["msisdn"])))
    refund = ctx.session.scalars(select(Refund).where(Refund.kind == "now")).one()
    refund.status = "failed"  # as a payout parked after its last attempt leaves it
    ctx.session.add(
        OutboxMessage(topic="sms", payload={}, created_at=ctx.now(), status="dead", attempts=12)
    )
    ctx.session.commit()

    after = scrape(client)
    pending = "xiaohu_outbox_messages"
    got = value(after, pending, topic="payment.refund", status="pending")
    assert got - value(before, pending, topic="payment.refund", status="pending") == 1
    assert (
        value(after, pending, topic="sms", status="dead")
        - value(before, pending, topic="sms", status="dead")
        == 1
    )
    age = value(after, "xiaohu_outbox_oldest_pending_age_seconds", topic="payment.refund")
    assert age == 600  # written at the service's now, scraped ten minutes later
    assert (
        value(after, "xiaohu_refund_payouts_failed") - value(before, "xiaohu_refund_payouts_failed")
        == 1
    )
    assert (
        value(after, "xiaohu_refund_payouts_failed_fen")
        - value(before, "xiaohu_refund_payouts_failed_fen")
        == refund.amount_fen
        > 0
    )


def test_production_metrics_need_the_admin_token(runtime: Runtime) -> None:
    settings = test_settings(
        runtime.settings.database_url,
        mode="production",
        secret_key=TEST_KEY,
        admin_token="m" * 32,
        allow_sandbox_gateways=True,
    )
    production = build_runtime(settings, runtime.engine)
    production.sessions = runtime.sessions
    with TestClient(create_app(production)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * 32}  # not genuine: 401, as no token
        assert client.get("/metrics", headers=wrong).status_code == 401
        now = production.system_clock.now()
        line_token = issue(production.settings.key, 1, "13800138000", now, 60)
        line = {"Authorization": "Bearer " + line_token}
        assert client.get("/metrics", headers=line).status_code == 403  # the wrong kind
        samples = scrape(client, Authorization="Bearer " + "m" * 32)
        assert value(samples, "xiaohu_refusals_total", code="UNAUTHENTICATED") == 2
        assert value(samples, "xiaohu_refusals_total", code="FORBIDDEN") == 1
