"""Assembling a process: `build_runtime` loads the settings' gateways, policy and keys and
lends the runtime what the areas do for it (outbox delivery, the test clock). Above the areas,
so `runtime.py` below them needs none of them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from xiaohu import nodemap
from xiaohu.billing import transfers
from xiaohu.billing.gateway import SandboxPaymentGateway, load_payment_gateway
from xiaohu.config import Settings
from xiaohu.delivery import deliver
from xiaohu.identity.limits import ClientLimits
from xiaohu.interprovince import dues
from xiaohu.interprovince import rules as interprovince
from xiaohu.interprovince.service import Appliers, LocalLink
from xiaohu.kit.crypto import PiiCipher
from xiaohu.kit.db import make_engine, session_factory
from xiaohu.nodemap import NodeMap
from xiaohu.notifications.gateway import (
    SandboxProvisioningGateway,
    SandboxSmsGateway,
    load_provisioning_gateway,
    load_sms_gateway,
)
from xiaohu.notifications.rules import RetryPolicy
from xiaohu.policy.loader import cached as load_policy
from xiaohu.runtime import Runtime
from xiaohu.sandbox.service import read_test_clock
from xiaohu.settlement import clearing

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConfigurationError(ValueError):
    """A setting the process cannot start with; its message is the one line `serve` prints."""


def build_runtime(settings: Settings, engine: Engine | None = None) -> Runtime:
    """The runtime of one process, on `engine` (default: a new one for the settings' URL)."""

    def load(setting: str, make: Callable[[str], T], spec: str) -> T:
        try:
            return make(spec)
        except (ImportError, AttributeError, TypeError, ValueError, AssertionError) as exc:
            raise ConfigurationError(f"{setting} cannot be loaded: {exc}") from exc

    sms = load("XIAOHU_SMS_GATEWAY", load_sms_gateway, settings.sms_gateway)
    provisioning = load(
        "XIAOHU_PROVISIONING_GATEWAY", load_provisioning_gateway, settings.provisioning_gateway
    )
    payment = load("XIAOHU_PAYMENT_GATEWAY", load_payment_gateway, settings.payment_gateway)
    sandboxed = [
        name
        for name, gateway, sandbox in (
            ("XIAOHU_SMS_GATEWAY", sms, SandboxSmsGateway),
            ("XIAOHU_PAYMENT_GATEWAY", payment, SandboxPaymentGateway),
            ("XIAOHU_PROVISIONING_GATEWAY", provisioning, SandboxProvisioningGateway),
        )
        if isinstance(gateway, sandbox)
    ]
    check_production(settings, sandboxed)
    node_map = load_node_map(settings)
    engine = engine or make_engine(node_map.default_node().database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        policy=load_policy(settings.policy_file),
        cipher=PiiCipher(settings.key),
        sms_gateway=sms,
        provisioning_gateway=provisioning,
        payment_gateway=payment,
        outbox_delivery=deliver_outbox,
        read_test_clock=read_test_clock,
        sandbox_gateways=bool(sandboxed),
        client_limits=ClientLimits(*settings.client_limits()),
        node_map=node_map if node_map.national else None,
    )


def load_node_map(settings: Settings) -> NodeMap:
    """The settings' node map, or one node on XIAOHU_DATABASE_URL."""
    if settings.node_map is None:
        return nodemap.single(settings.database_url)
    try:
        return nodemap.load(settings.node_map)
    except nodemap.NodeMapProblem as exc:
        raise ConfigurationError(f"XIAOHU_NODE_MAP: {exc}") from exc


def check_production(settings: Settings, sandboxed: list[str]) -> None:
    """Production talks to real outside systems and guards its admin routes, or does not start.
    A sandbox gateway only pretends (an SMS code lands in a table, a payment is credited with
    no money moving): allowed in production only by XIAOHU_ALLOW_SANDBOX_GATEWAYS=true, for a
    staging system, and then said loudly at start-up and by /healthz."""
    if settings.sandbox:
        return
    problem = settings.admin_problem()
    if problem is not None:
        raise ConfigurationError(problem)
    if settings.notice_cert is not None and not settings.notice_cert.is_file():
        raise ConfigurationError(f"XIAOHU_NOTICE_CERT={settings.notice_cert} is not a file")
    if sandboxed:
        if not settings.allow_sandbox_gateways:
            raise ConfigurationError(
                f"{sandboxed[0]} selects a sandbox gateway, which XIAOHU_MODE=production "
                "refuses: set it to the operator's adapter (module:Class), or "
                "XIAOHU_ALLOW_SANDBOX_GATEWAYS=true for a staging system"
            )
        log.warning(
            "PRODUCTION ON SANDBOX GATEWAYS (%s): nothing is really sent, paid or provisioned; "
            "allowed by XIAOHU_ALLOW_SANDBOX_GATEWAYS=true, for staging only",
            ", ".join(sandboxed),
        )
    if settings.notice_cert is None:  # said once the process is sure to start
        log.warning(
            "XIAOHU_NOTICE_CERT is not set: refusal notices are signed with a key derived from "
            "XIAOHU_SECRET_KEY under a self-signed certificate; set the operator's PKCS#12 file"
        )


def deliver_outbox(runtime: Runtime, session: Session, now: dt.datetime, limit: int) -> int:
    """`Runtime.deliver_outbox`'s work: the outbox's delivery on the runtime's gateways."""
    s = runtime.settings
    retry = RetryPolicy(
        s.outbox_max_attempts, s.outbox_retry_base_seconds, s.outbox_retry_cap_seconds
    )
    return deliver(
        session,
        runtime.sms_gateway,
        runtime.provisioning_gateway,
        now,
        limit,
        payments=runtime.payment_gateway,
        retry=retry,
        link=LocalLink(interprovince_appliers()),
        # Several nodes: a province's messages may be for another node, so they go by the
        # broker, in order, through the relay (`national.relay`), not by this delivery.
        skip=frozenset({interprovince.TOPIC}) if runtime.nodes.national else frozenset(),
    )


def interprovince_appliers() -> Appliers:
    """Every area's appliers of messages between provinces, by kind: the outbox's link applies
    them locally with one node (`interprovince.service`); with several, the relay and the
    broker's consumer do (`national.relay`, `national.consumer`)."""
    return Appliers([*dues.APPLIERS, *transfers.APPLIERS, *clearing.APPLIERS])
