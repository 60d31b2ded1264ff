"""Internet platforms and the recycled-number check (二次号).

Why a check at all: a bank or an app binds an account to a phone number; when the number is
cancelled and, after quarantine, issued to someone else, the new holder receives the old
owner's codes. A platform asks, for each number it holds, whether it changed hands since the
day the account was bound, and unbinds it if so. The answer is one bit per number: nothing
about either person.

`changed` is true when the number has a cancellation on or after `bound_since` (a Shanghai
calendar day) that still stands: status `cancelled` (a reversal makes it `reversed`) and no
`reclaimed_at` (the former owner took it back during quarantine: it never changed hands).
A number never known is unchanged. One query per batch, grouped by number over the
(msisdn, cancelled_at) index, whatever the batch's size.

A national deployment (README, "Across nodes"): platforms are national data, so the key is
checked on the default node (where the request runs); a number's cancellations are on the node
of its home province, so the batch is split by node, each node asked for its share at once
(`kit.scatter`), and the answers put back in the request's order. A node that does not answer
makes the batch `503 NODE_UNAVAILABLE`: "unchanged" for a number that could not be looked at
would tell a bank to keep sending codes to a stranger.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xiaohu.audit.service import append
from xiaohu.cancellation.models import Cancellation
from xiaohu.cancellation.rules import CancellationStatus
from xiaohu.kit.clock import start_of_day
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id
from xiaohu.kit.scatter import complete, gather_reads
from xiaohu.platforms import rules
from xiaohu.platforms.models import Platform
from xiaohu.regions.rules import home_of
from xiaohu.runtime import Context

_UNAUTHENTICATED = "a valid X-Api-Key header is required"


# --- platforms and their keys ------------------------------------------------------------


def add(ctx: Context, name: str, *, requests_per_minute: int | None = None) -> tuple[Platform, str]:
    """A new platform and its key (returned once, never stored). PLATFORM_EXISTS for a name
    taken, revoked platforms included (their name stays in the audit trail)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError(
            "VALIDATION_FAILED",
            "name: 1 to 100 characters",
            errors=[{"field": "name", "reason": "must be 1 to 100 characters"}],
        )
    if requests_per_minute is not None and not 1 <= requests_per_minute <= 100_000:
        raise DomainError(
            "VALIDATION_FAILED",
            "rate: 1 to 100000 requests a minute",
            errors=[{"field": "requests_per_minute", "reason": "must be 1 to 100000"}],
        )
    if ctx.session.scalar(select(Platform.id).where(Platform.name == name)) is not None:
        raise DomainError("PLATFORM_EXISTS", f"a platform named {name!r} is registered")
    key = rules.new_key()
    now = ctx.now()
    platform = Platform(
        id=new_id(),
        name=name,
        key_index=rules.key_index(ctx.settings.key, key),
        key_hint=rules.key_hint(key),
        requests_per_minute=requests_per_minute,
        created_at=now,
        revoked_at=None,
    )
    ctx.session.add(platform)
    try:
        with ctx.session.begin_nested():
            ctx.session.flush()
    except IntegrityError:  # the same name, added by another process meanwhile
        raise DomainError("PLATFORM_EXISTS", f"a platform named {name!r} is registered") from None
    data = {"name": name, "key_hint": platform.key_hint, "requests_per_minute": requests_per_minute}
    _event(ctx, platform, "platform.added", data)
    return platform, key


def list_platforms(session: Session) -> Sequence[Platform]:
    return session.scalars(select(Platform).order_by(Platform.created_at, Platform.name)).all()


def revoke(ctx: Context, name: str) -> Platform:
    """The platform's key stops working at once; revoking twice keeps the first date."""
    platform = ctx.session.scalars(
        select(Platform).where(Platform.name == name.strip()).with_for_update()
    ).one_or_none()
    if platform is None:
        raise DomainError("NOT_FOUND", f"no platform named {name!r}")
    if platform.revoked_at is None:
        platform.revoked_at = ctx.now()
        ctx.session.flush()
        _event(ctx, platform, "platform.revoked", {"name": platform.name})
    return platform


def authenticate(ctx: Context, key: str | None) -> Platform:
    """The platform whose live key this is; 401 for a missing, unknown or revoked key (the
    answer never says which)."""
    if not key or len(key) > 200:
        raise DomainError("UNAUTHENTICATED", _UNAUTHENTICATED)
    platform = ctx.session.scalars(
        select(Platform).where(Platform.key_index == rules.key_index(ctx.settings.key, key))
    ).one_or_none()
    if platform is None or platform.revoked_at is not None:
        raise DomainError("UNAUTHENTICATED", _UNAUTHENTICATED)
    ctx.actor = f"platform:{platform.id}"
    return platform


def rate_of(ctx: Context, platform: Platform) -> int:
    """Requests a minute: the platform's own, else the policy's (platforms are national:
    the policy's defaults, not a province's)."""
    if platform.requests_per_minute:
        return platform.requests_per_minute
    return ctx.runtime.policy.defaults.platform_requests_per_minute


# --- the recycled-number check -----------------------------------------------------------


def parse_batch(raw: bytes) -> list[tuple[str, dt.date]]:
    """The request body as (msisdn, bound_since) pairs, or the refusal: MALFORMED_JSON,
    TOO_MANY_QUERIES (before anything else is looked at), VALIDATION_FAILED naming every
    malformed field by its index (`queries.3.bound_since`).

    Read by hand rather than as 1,000 Pydantic models: on a batch of 1,000 numbers the
    models cost more than the query (benchmarks/bench_recycled.py). The documented shape
    is `api._BODY`."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise DomainError("MALFORMED_JSON", "the body is not valid JSON") from None
    queries = body.get("queries") if isinstance(body, dict) else None
    if not isinstance(queries, list) or set(body) != {"queries"}:
        raise _invalid([{"field": "queries", "reason": 'the body is {"queries": [...]}'}])
    if len(queries) > rules.MAX_QUERIES:
        raise DomainError(
            "TOO_MANY_QUERIES",
            f"{len(queries)} queries; at most {rules.MAX_QUERIES} a request",
            max_queries=rules.MAX_QUERIES,
        )
    if not queries:
        raise _invalid([{"field": "queries", "reason": "must hold 1 to 1000 queries"}])
    out: list[tuple[str, dt.date]] = []
    problems: list[dict[str, Any]] = []
    days: dict[str, tuple[dt.date | None, str | None]] = {}  # a batch repeats its dates
    for i, q in enumerate(queries):
        if not isinstance(q, dict) or q.keys() != _QUERY_KEYS:
            reason = 'must be {"msisdn", "bound_since"}'
            problems.append({"field": f"queries.{i}", "index": i, "reason": reason})
            continue
        msisdn, since = q["msisdn"], q["bound_since"]
        why_number = rules.msisdn_problem(msisdn)
        if why_number:
            problems.append({"field": f"queries.{i}.msisdn", "index": i, "reason": why_number})
        found = days.get(since) if isinstance(since, str) else None
        if found is None:
            found = rules.date_problem(since)
            if isinstance(since, str):
                days[since] = found
        day, why_day = found
        if why_day:
            problems.append({"field": f"queries.{i}.bound_since", "index": i, "reason": why_day})
        elif day is not None and not why_number:
            out.append((msisdn, day))
    if problems:
        raise _invalid(problems)
    return out


_QUERY_KEYS = {"msisdn", "bound_since"}


def _invalid(problems: list[dict[str, Any]]) -> DomainError:
    shown = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
    return DomainError("VALIDATION_FAILED", shown, errors=problems)


def latest_cancellations(session: Session, msisdns: Sequence[str]) -> dict[str, dt.datetime]:
    """Each number's latest standing cancellation (not reversed, not reclaimed): one query."""
    if not msisdns:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # One text parameter split by the server, not 1,000 (or an array the driver quotes
        # item by item): the numbers are digits, checked by `parse_batch`.
        numbers = func.string_to_array(bindparam("numbers", ",".join(msisdns), String), ",")
        among = Cancellation.msisdn == any_(numbers)
    else:
        among = Cancellation.msisdn.in_(msisdns)
    rows = session.execute(
        select(Cancellation.msisdn, func.max(Cancellation.cancelled_at))
        .where(
            among,
            Cancellation.status == CancellationStatus.CANCELLED,
            Cancellation.reclaimed_at.is_(None),
        )
        .group_by(Cancellation.msisdn)
    ).all()
    return {m: at for m, at in rows if at is not None}


def latest_everywhere(ctx: Context, msisdns: Sequence[str]) -> dict[str, dt.datetime]:
    """`latest_cancellations` of the numbers, each asked of the node of its home province (one
    node: of the request's database, as it always was)."""
    runtime = ctx.runtime
    if not runtime.nodes.national:
        return latest_cancellations(ctx.session, msisdns)
    shares: dict[str, list[str]] = defaultdict(list)
    node_of_block: dict[str, str] = {}  # a batch repeats its 7-digit blocks
    for msisdn in msisdns:
        node = node_of_block.get(msisdn[:7])
        if node is None:
            home = home_of(msisdn)
            # A number of no known province was never issued here: any node answers
            # "unchanged"; the request's own one costs no connection.
            node = runtime.node_of(home.province_code) if home else runtime.node
            node_of_block[msisdn[:7]] = node
        shares[node].append(msisdn)

    def share_of(numbers: list[str]) -> Callable[[Session], dict[str, dt.datetime]]:
        return lambda session: latest_cancellations(session, numbers)

    reads = {node: share_of(numbers) for node, numbers in shares.items()}
    found = complete(runtime, gather_reads(runtime, reads, session=ctx.session))
    return {m: at for answer in found.values() for m, at in answer.items()}


def check(ctx: Context, platform: Platform, raw: bytes) -> dict[str, Any]:
    """`{"results": [{"msisdn", "changed"}]}` in query order for the request body `raw`, and
    one audit event for the batch (the platform, how many asked and how many changed: no
    numbers)."""
    parsed = parse_batch(raw)
    latest = latest_everywhere(ctx, sorted({m for m, _ in parsed}))
    results = []
    changed = 0
    starts: dict[dt.date, dt.datetime] = {}
    for msisdn, day in parsed:
        at = latest.get(msisdn)
        since = starts.get(day)
        if since is None:
            since = starts[day] = start_of_day(day)
        hit = at is not None and at >= since
        changed += hit
        results.append({"msisdn": msisdn, "changed": hit})
    data = {"platform": platform.name, "queries": len(parsed), "changed": changed}
    _event(ctx, platform, "platform.recycled_check", data)
    return {"results": results}


def _event(ctx: Context, platform: Platform, action: str, data: dict[str, Any]) -> None:
    """In the national chain: a platform belongs to no province."""
    append(
        ctx.session,
        at=ctx.now(),
        actor=ctx.actor,
        action=action,
        subject=f"platform:{platform.id}",
        data=data,
    )
