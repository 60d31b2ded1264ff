"""The payment gateway: an interface, and the sandbox implementation that ships.

The operator's real acquirer (UnionPay, Alipay, WeChat Pay …) sits behind `PaymentGateway` and
is plugged in with `XIAOHU_PAYMENT_GATEWAY=module:Class`; `sandbox` (the default) selects
`SandboxPaymentGateway`, which moves no real money but behaves like a real gateway so that the
failure paths can be exercised end to end:

- **Idempotent by key.** The reference is derived from the idempotency key
  (`sbx_ch_<24 hex>`); a charge retried with the same key returns the first result and never
  charges twice. The same key with another amount is refused, as real gateways do.
- **Magic amounts** (like Stripe's test cards), documented for testers:

  | amount                                   | result                                 |
  |------------------------------------------|----------------------------------------|
  | ends in `9999` fen (99.99, 199.99 yuan…) | declined, reason `card_declined`       |
  | above `SANDBOX_LIMIT_FEN` (¥50,000.00)   | declined, reason `amount_over_limit`   |
  | anything else > 0                        | succeeded                              |

Refunds follow the same rules for idempotency and succeed unless the amount is above the limit.
"""

from __future__ import annotations

import hashlib
import threading
from typing import cast

# The interface lives below the runtime; named here too, where an adapter's author looks.
from xiaohu.gateways import GatewayResult as GatewayResult
from xiaohu.gateways import PaymentGateway as PaymentGateway
from xiaohu.notifications.gateway import load_gateway, require_methods

SANDBOX_DECLINE_SUFFIX = 9999  # amount_fen % 10000 == 9999 is declined
SANDBOX_LIMIT_FEN = 5_000_000  # ¥50,000.00: one payment above it is declined


class IdempotencyConflict(ValueError):
    """The same idempotency key was sent with a different request."""


class SandboxPaymentGateway:
    """In-memory sandbox gateway (one per runtime). `charges_made` counts real first charges,
    so a test can prove a retry did not charge twice."""

    name = "sandbox"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, str, GatewayResult]] = {}
        self.charges_made = 0
        self.refunds_made = 0

    def charge(self, amount_fen: int, msisdn: str, idempotency_key: str) -> GatewayResult:
        return self._once("ch", amount_fen, msisdn, idempotency_key, decline_magic=True)

    def refund(
        self, amount_fen: int, msisdn: str, idempotency_key: str, original_ref: str | None = None
    ) -> GatewayResult:
        return self._once("re", amount_fen, msisdn, idempotency_key, decline_magic=False)

    def refunds_paid(self) -> list[tuple[str, int, str]]:
        """(idempotency key, amount_fen, msisdn) of every refund paid out, each once however
        often it was asked for: what a tester reads to see the payouts reached the gateway."""
        with self._lock:
            return [
                (slot.removeprefix("re:"), amount, msisdn)
                for slot, (amount, msisdn, result) in self._seen.items()
                if slot.startswith("re:") and result.succeeded
            ]

    def _once(
        self, kind: str, amount_fen: int, msisdn: str, key: str, *, decline_magic: bool
    ) -> GatewayResult:
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValueError("amount_fen must be a positive int")
        if not key:
            raise ValueError("an idempotency key is required")
        slot = f"{kind}:{key}"
        with self._lock:
            seen = self._seen.get(slot)
            if seen is not None:
                if seen[0] != amount_fen or seen[1] != msisdn:
                    raise IdempotencyConflict(f"key {key!r} was used for another {kind} request")
                return seen[2]
            result = self._decide(kind, amount_fen, key, decline_magic=decline_magic)
            self._seen[slot] = (amount_fen, msisdn, result)
            if result.succeeded:
                if kind == "ch":
                    self.charges_made += 1
                else:
                    self.refunds_made += 1
            return result

    @staticmethod
    def _decide(kind: str, amount_fen: int, key: str, *, decline_magic: bool) -> GatewayResult:
        ref = f"sbx_{kind}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"
        if amount_fen > SANDBOX_LIMIT_FEN:
            return GatewayResult("declined", ref, "amount_over_limit")
        if decline_magic and amount_fen % 10000 == SANDBOX_DECLINE_SUFFIX:
            return GatewayResult("declined", ref, "card_declined")
        return GatewayResult("succeeded", ref)


def load_payment_gateway(spec: str) -> PaymentGateway:
    """`sandbox` or `module:Class` (settings `XIAOHU_PAYMENT_GATEWAY`)."""
    gateway = load_gateway(spec, SandboxPaymentGateway)
    require_methods(spec, gateway, "a payment gateway", "charge", "refund")
    return cast(PaymentGateway, gateway)
