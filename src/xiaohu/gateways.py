"""The interfaces of the outside systems a process holds: the SMS centre, network provisioning
and the payment gateway. An operator's adapter implements one (`module:Class` in the settings);
the sandbox implementations and the loaders live with their areas (`notifications/gateway.py`,
`billing/gateway.py`). Here, below the runtime, so the runtime can hold them without importing
the areas."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session

GatewayStatus = Literal["succeeded", "declined"]


class SmsGateway(Protocol):
    def send(
        self, session: Session, *, message_id: int, to: str, text: str, kind: str, at: dt.datetime
    ) -> None: ...


class ProvisioningGateway(Protocol):
    def order(
        self, session: Session, *, message_id: int, msisdn: str, action: str, at: dt.datetime
    ) -> None: ...


@dataclass(frozen=True)
class GatewayResult:
    status: GatewayStatus
    gateway_ref: str | None
    reason: str | None = None  # why a charge was declined

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class PaymentGateway(Protocol):
    name: str

    def charge(self, amount_fen: int, msisdn: str, idempotency_key: str) -> GatewayResult: ...

    def refund(
        self, amount_fen: int, msisdn: str, idempotency_key: str, original_ref: str | None = None
    ) -> GatewayResult: ...
