"""When a failed outbox message is tried again, and when it is given up: no database, no clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "pending"  # to deliver, from next_attempt_at on
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up after the last attempt: the operator's


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a cap, then the dead-letter state after `max_attempts`.

    The defaults try a message 12 times over about 70 minutes (2 s, 4 s, 8 s … 34 min): long
    enough for a gateway's outage to pass, short enough for an operator to hear of a payout
    that will not go out the same day (settings `XIAOHU_OUTBOX_*`)."""

    max_attempts: int = 12
    base_seconds: float = 2.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th failure (1 → base, doubling, never above the cap)."""
        exponent = min(max(attempts - 1, 0), 40)  # 2**40 seconds is past any cap
        return dt.timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2**exponent))

    def after_failure(
        self, attempts: int, now: dt.datetime
    ) -> tuple[OutboxStatus, dt.datetime | None]:
        """(status, next attempt) of a message that has failed `attempts` times: `pending`
        again later, or `dead` (no next attempt) once it has used up its attempts."""
        if attempts >= self.max_attempts:
            return OutboxStatus.DEAD, None
        return OutboxStatus.PENDING, now + self.delay(attempts)
