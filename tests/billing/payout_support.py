"""A payment gateway that declines refund payouts while told to: the cause an operator fixes."""

from __future__ import annotations

from typing import ClassVar

from xiaohu.billing.gateway import GatewayResult, SandboxPaymentGateway


class DecliningGateway(SandboxPaymentGateway):
    """The sandbox gateway, but the next `declines` payouts are declined (a class value, so
    a runtime built from settings `XIAOHU_PAYMENT_GATEWAY=module:Class` obeys the test)."""

    declines: ClassVar[int] = 0
    calls: ClassVar[list[str]] = []

    def refund(
        self, amount_fen: int, msisdn: str, idempotency_key: str, original_ref: str | None = None
    ) -> GatewayResult:
        DecliningGateway.calls.append(idempotency_key)
        if DecliningGateway.declines > 0:
            DecliningGateway.declines -= 1
            return GatewayResult("declined", None, "account_frozen")
        return super().refund(amount_fen, msisdn, idempotency_key, original_ref)
