"""Outside systems we cannot reach from here, behind interfaces.

The sandbox implementations behave like the real ones (they accept, record, and are
idempotent by message id) and are what `XIAOHU_SMS_GATEWAY=sandbox` selects. An operator
plugs its SMS centre or provisioning system in with `module:Class` in settings.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

# The interfaces live below the runtime; named here too, where an adapter's author looks.
from xiaohu.gateways import ProvisioningGateway as ProvisioningGateway
from xiaohu.gateways import SmsGateway as SmsGateway
from xiaohu.notifications.models import SandboxProvisioning, SandboxSms


class SandboxSmsGateway:
    """Stores what would have been sent; GET /api/v1/sandbox/sms reads it back."""

    def send(
        self, session: Session, *, message_id: int, to: str, text: str, kind: str, at: dt.datetime
    ) -> None:
        seen = session.scalar(select(SandboxSms.id).where(SandboxSms.outbox_id == message_id))
        if seen is None:
            session.add(SandboxSms(outbox_id=message_id, to=to, text=text, kind=kind, sent_at=at))

    def send_many(self, session: Session, messages: list[dict[str, Any]], at: dt.datetime) -> None:
        """`send` for a batch (keys message_id, to, text, kind): one statement for them all."""
        rows = [
            {"outbox_id": m["message_id"], "to": m["to"], "text": m["text"], "kind": m["kind"]}
            for m in messages
        ]
        _insert_new(session, SandboxSms.__table__, [{**r, "sent_at": at} for r in rows])


class SandboxProvisioningGateway:
    def order(
        self, session: Session, *, message_id: int, msisdn: str, action: str, at: dt.datetime
    ) -> None:
        seen = session.scalar(
            select(SandboxProvisioning.id).where(SandboxProvisioning.outbox_id == message_id)
        )
        if seen is None:
            session.add(
                SandboxProvisioning(outbox_id=message_id, msisdn=msisdn, action=action, at=at)
            )

    def order_many(self, session: Session, messages: list[dict[str, Any]], at: dt.datetime) -> None:
        """`order` for a batch (keys message_id, msisdn, action): one statement for them all."""
        rows = [
            {"outbox_id": m["message_id"], "msisdn": m["msisdn"], "action": m["action"], "at": at}
            for m in messages
        ]
        _insert_new(session, SandboxProvisioning.__table__, rows)


def _insert_new(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose outbox id is not recorded yet (a redelivery is ignored), in one
    `INSERT ... ON CONFLICT (outbox_id) DO NOTHING` run for every row."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(table).on_conflict_do_nothing(index_elements=["outbox_id"]), rows)


def load_gateway(spec: str, sandbox: type) -> object:
    """`sandbox` (the given class) or an operator's adapter, `module:Class`, instantiated."""
    if spec == "sandbox":
        return sandbox()
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)()


def require_methods(spec: str, gateway: object, what: str, *methods: str) -> None:
    """Refuse an adapter that lacks a method its Protocol needs (at start-up, not at the first
    message)."""
    missing = [m for m in methods if not callable(getattr(gateway, m, None))]
    if missing:
        raise TypeError(f"{spec}: {what} needs {', '.join(m + '()' for m in missing)}")


def load_sms_gateway(spec: str) -> SmsGateway:
    """`sandbox` or `module:Class` (setting `XIAOHU_SMS_GATEWAY`)."""
    gateway = load_gateway(spec, SandboxSmsGateway)
    require_methods(spec, gateway, "an SMS gateway", "send")
    return cast(SmsGateway, gateway)


def load_provisioning_gateway(spec: str) -> ProvisioningGateway:
    """`sandbox` or `module:Class` (setting `XIAOHU_PROVISIONING_GATEWAY`)."""
    gateway = load_gateway(spec, SandboxProvisioningGateway)
    require_methods(spec, gateway, "a provisioning gateway", "order")
    return cast(ProvisioningGateway, gateway)
