"""What one running process holds: settings, engine, session factory, policy, keys.

Built by `build_runtime()` at start-up (never at import); the app, the CLI and the tests each
build their own. `Context` is what a unit of work hands to services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from xiaohu.config import Settings
from xiaohu.identity.crypto import PiiCipher
from xiaohu.kit.clock import Clock, LazyClock, SystemClock
from xiaohu.kit.db import make_engine, session_factory
from xiaohu.policy.loader import cached as load_policy
from xiaohu.policy.schema import Policy, Values


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    cipher: PiiCipher
    system_clock: Clock = field(default_factory=SystemClock)
    sms_gateway: object = None
    provisioning_gateway: object = None
    payment_gateway: object = None

    def deliver_outbox(self, limit: int = 200) -> int:
        """Deliver pending side effects in a transaction of their own (after the business
        transaction committed). Safe to call from anywhere, any number of times."""
        from xiaohu.kit.db import transaction
        from xiaohu.notifications.service import deliver

        with transaction(self.sessions) as session:
            return deliver(
                session,
                self.sms_gateway,
                self.provisioning_gateway,
                self.clock_for(session).now(),
                limit,
                payments=self.payment_gateway,
            )

    def clock_for(self, session: Session) -> Clock:
        """Production: the system clock. Sandbox: the test clock when one is set."""
        if not self.settings.sandbox:
            return self.system_clock
        return LazyClock(lambda: read_test_clock(session), self.system_clock)

    def context(self, session: Session, actor: str = "system") -> Context:
        return Context(self, session, self.clock_for(session), actor)


def read_test_clock(session: Session) -> dt.datetime | None:
    from xiaohu.sandbox.models import TestClockSetting

    return session.scalar(select(TestClockSetting.now).where(TestClockSetting.name == "default"))


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
        from xiaohu.kit.clock import local_date

        return self.runtime.policy.for_province(province_code, local_date(self.now()))


def build_runtime(settings: Settings, engine: Engine | None = None) -> Runtime:
    from xiaohu.billing.gateway import load_payment_gateway
    from xiaohu.notifications.gateway import (
        SandboxProvisioningGateway,
        SandboxSmsGateway,
        load_gateway,
    )

    engine = engine or make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        policy=load_policy(settings.policy_file),
        cipher=PiiCipher(settings.key),
        sms_gateway=load_gateway(settings.sms_gateway, SandboxSmsGateway),
        provisioning_gateway=load_gateway("sandbox", SandboxProvisioningGateway),
        payment_gateway=load_payment_gateway(settings.payment_gateway),
    )
