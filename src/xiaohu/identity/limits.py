"""Per-client limits on sign-in: how many codes one client may ask for, how many token attempts
it may make, whatever the numbers.

The per-line lock-out (`service.py`) protects one line from guessing; these protect the SMS
centre and every line from one client working through many numbers. Keyed by the client's IP
address (behind a proxy, what uvicorn's forwarded headers make of it). The counters live in
this process's memory (`limits`' moving window): each process of a deployment counts on its
own, and a restart forgets; a deployment of N processes allows up to N times the limit.
Time is the process's monotonic wall time, not the test clock: a limit guards the real
service, whatever day a sandbox pretends it is.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from xiaohu.kit.errors import DomainError


class ClientLimits:
    """The limits of one process: `hit_otp` and `hit_token` count a request or refuse it."""

    def __init__(self, otp: str, token: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._otp = parse_many(otp)
        self._token = parse_many(token)

    def hit_otp(self, client: str) -> None:
        self._hit(self._otp, "otp", client, "code requests")

    def hit_token(self, client: str) -> None:
        self._hit(self._token, "token", client, "sign-in attempts")

    def _hit(self, items: list[RateLimitItem], scope: str, client: str, what: str) -> None:
        # Test every window before counting in any, so a refused request spends nothing.
        for item in items:
            if not self._limiter.test(item, scope, client):
                raise self._refusal(item, scope, client, what)
        for item in items:
            self._limiter.hit(item, scope, client)

    def _refusal(self, item: RateLimitItem, scope: str, client: str, what: str) -> DomainError:
        reset_at = self._limiter.get_window_stats(item, scope, client).reset_time
        wait = max(1, math.ceil(reset_at - time.time()))
        return DomainError(
            "RATE_LIMITED",
            f"too many {what} from this client ({item.amount} per "
            f"{item.get_expiry()} s); retry in {wait} s",
            retry_after=wait,
            headers={"Retry-After": str(wait)},
        )
