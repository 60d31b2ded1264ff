"""Which store cancellations a person must decide, and what else still blocks. Pure.

A blocker is reviewable when the home province's policy hands it to its back office instead
of refusing: a fraud stop (涉诈停机, `review_fraud_stop`) and a lifetime premium-number term
(终身靓号协议, `review_lifetime_term`: a negotiated exit). A province may also ask to review every
cancellation of its lines made in another province (`review_cross_region`). Online and on the
hotline nothing changes: these blockers refuse as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from xiaohu.cancellation.rules import Blocker
from xiaohu.policy.schema import Values


class Trigger(StrEnum):
    FRAUD_STOP = "fraud_stop"
    LIFETIME_TERM = "lifetime_term"
    CROSS_REGION = "cross_region"


B = TypeVar("B")


@dataclass(frozen=True)
class Review(Generic[B]):
    """The triggers that send the request to the back office, and the blockers that refuse it
    whatever a person decides (the arrears, say: those are paid first)."""

    triggers: tuple[Trigger, ...]
    blockers: list[B]

    @property
    def required(self) -> bool:
        return bool(self.triggers)


def trigger_of(code: str, details: Mapping[str, Any], values: Values) -> Trigger | None:
    """The trigger a blocker (its code and details) becomes under the policy, if any."""
    fraud_stop = code == "ABNORMAL_STATE" and details.get("state") == "fraud_stop"
    if fraud_stop and values.review_fraud_stop:
        return Trigger.FRAUD_STOP
    if (
        code == "PREMIUM_MIN_SPEND"
        and details.get("lifetime") is True
        and values.review_lifetime_term
    ):
        return Trigger.LIFETIME_TERM
    return None


def review(
    blockers: list[Blocker], values: Values, home_province: str, handling_province: str
) -> Review[Blocker]:
    """Split a store check's blockers into review triggers and the rest. `values`: the home
    province's policy (its rules govern the line wherever it is handled)."""
    found = [trigger_of(b.code, b.details, values) for b in blockers]
    return _split(blockers, found, values, home_province, handling_province)


def review_json(
    blockers: list[dict[str, Any]], values: Values, home_province: str, handling_province: str
) -> Review[dict[str, Any]]:
    """`review` for the check's JSON blockers (their details are top-level keys)."""
    found = [trigger_of(str(b.get("code")), b, values) for b in blockers]
    return _split(blockers, found, values, home_province, handling_province)


def _split(
    blockers: list[B],
    found: list[Trigger | None],
    values: Values,
    home_province: str,
    handling_province: str,
) -> Review[B]:
    triggers: list[Trigger] = []
    rest: list[B] = []
    for b, t in zip(blockers, found, strict=True):
        if t is None:
            rest.append(b)
        elif t not in triggers:
            triggers.append(t)
    if values.review_cross_region and handling_province != home_province:
        triggers.append(Trigger.CROSS_REGION)
    return Review(tuple(triggers), rest)
