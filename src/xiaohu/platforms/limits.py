"""Per-platform request limits for the recycled-number check, with the `limits` library.

A moving window of one minute per platform id: `requests_per_minute` of the platform, else
the policy's `platform_requests_per_minute` (default 100). The counters live in this process's
memory by default (as the sign-in limits, `identity.limits`): each process of a deployment
counts on its own and a restart forgets, so N processes allow up to N times the rate. Set
`XIAOHU_RATE_LIMIT_STORAGE` to a `limits` storage URI (`redis://host:6379/0`,
`memcached://…`) to share the counters between processes; that storage's client library
must be installed (`limits[redis]`). A storage without moving windows (memcached) counts in
fixed one-minute windows instead. Time is the process's wall time, not the test clock.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
)

from xiaohu.kit.errors import DomainError

SCOPE = "platform-checks"


class PlatformLimits:
    """`hit(platform_id, per_minute)` counts a request or refuses it with RATE_LIMITED."""

    def __init__(self, storage_uri: str | None = None) -> None:
        found = storage_from_string(storage_uri) if storage_uri else MemoryStorage()
        if not isinstance(found, Storage):  # an async storage (`async+redis://`): not here
            raise ValueError(f"rate limit storage {storage_uri!r} must be a synchronous one")
        storage = found
        limiter: RateLimiter
        try:
            limiter = MovingWindowRateLimiter(storage)
        except NotImplementedError:  # the storage keeps no moving windows
            limiter = FixedWindowRateLimiter(storage)
        self._limiter = limiter

    def hit(self, platform_id: str, per_minute: int) -> None:
        item = RateLimitItemPerMinute(per_minute)
        if self._limiter.hit(item, SCOPE, platform_id):
            return
        reset_at = self._limiter.get_window_stats(item, SCOPE, platform_id).reset_time
        wait = max(1, math.ceil(reset_at - time.time()))
        raise DomainError(
            "RATE_LIMITED",
            f"more than {per_minute} requests a minute from this platform; retry in {wait} s",
            retry_after=wait,
            headers={"Retry-After": str(wait)},
        )
