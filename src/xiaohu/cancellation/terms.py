"""The policy terms a check or a cancellation prices with, memoised for the hot path (on the
runtime: `Runtime.policy_memo`).

The check runs ≥1,000/s: merging a province's policy re-validates a Pydantic model and
fingerprinting it dumps the whole policy, either of which would cost more than the check's
query, so both are kept per policy object. The cancellation uses the same values (priced again
as of the quote's date) and the same fingerprint (a quote made under one policy is not honoured
under another).
"""

from __future__ import annotations

import datetime as dt

from xiaohu.cancellation import quotes
from xiaohu.kit.clock import period_bounds, period_of
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context


def cycle_closes_on(today: dt.date) -> dt.date:
    return period_bounds(period_of(today))[1]


_MEMO_LIMIT = 10_000  # merged values kept per runtime (provinces × days) before starting over


def policy_fingerprint(ctx: Context) -> str:
    """Of the whole policy (every province, every effective date): a quote made under one
    policy is not honoured under another."""
    policy, memo = ctx.runtime.policy, ctx.runtime.policy_memo.fingerprints
    hit = memo.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    value = quotes.fingerprint(policy.model_dump_json())
    memo[id(policy)] = (policy, value)
    return value


def policy_values(ctx: Context, province_code: str, day: dt.date) -> Values:
    """The province's policy in force on `day` (as `ctx.policy_for`, memoised): merging
    re-validates a Pydantic model, which would cost more than the check's query."""
    policy, memo = ctx.runtime.policy, ctx.runtime.policy_memo.values
    key = (id(policy), province_code, day)
    hit = memo.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    values = policy.for_province(province_code, day)
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    memo[key] = (policy, values)
    return values
