"""What a cancellation request must pass before anything is written: the lines locked, the
quote honoured, every warning acknowledged, the refund route valid.

Why apart from the writes (`execute.py`): these steps only lock and read, so a request refused
here (or on a blocker) leaves nothing behind but what the caller chooses to commit. The quote
is a signed token (`quotes.py`): honouring it means the same line `version`, the same policy,
not expired, and the final bill priced again as of its creation date adds up to the same
amounts, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass

from xiaohu.billing.rules import FinalBill, RefundRoute, RefundRouteKind
from xiaohu.cancellation import quotes, rules, snapshot
from xiaohu.cancellation.schemas import CancellationRequest
from xiaohu.cancellation.terms import cycle_closes_on, policy_fingerprint, policy_values
from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import local_date
from xiaohu.kit.errors import DomainError, InvariantViolated
from xiaohu.lines.models import Line, LineStatus
from xiaohu.lines.service import lock_line
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context


@dataclass(frozen=True)
class Accepted:
    """A cancellation request that passed every check, with what it was accepted on: all that
    `execute.execute` needs to carry it out."""

    line: Line
    target: Line | None  # the line a transfer refund goes to
    bill: FinalBill  # the quote's final bill, priced again
    route: RefundRoute
    values: Values  # the province's policy on the day of the request
    channel: str
    quote_id: str
    token: quotes.QuoteToken
    store_code: str | None = None  # the store channel: where
    staff_login: str | None = None  # who handled it: the clerk, or the hotline agent
    evidence: dict[str, object] | None = None  # what the clerk saw (documents, masked)
    # A work order's approval completes the request row it opened: the same id and reference.
    cancellation_id: str | None = None
    reference: str | None = None


def lock_lines(ctx: Context, msisdn: str, other: str | None) -> tuple[Line, Line | None]:
    """Lock the line and the transfer target in msisdn order (no deadlock between two)."""
    if other is None or other == msisdn:
        return lock_line(ctx.session, msisdn), None
    locked: dict[str, Line | None] = {}
    for m in sorted((msisdn, other)):
        try:
            locked[m] = lock_line(ctx.session, m)
        except DomainError:
            if m == msisdn:
                raise
            locked[m] = None
    line = locked[msisdn]
    if line is None:  # lock_line raised for the line itself
        raise InvariantViolated(f"line {msisdn} was not locked")
    return line, locked[other]


def cash_needs_a_counter(request: CancellationRequest, store_code: str | None) -> None:
    """A cash refund is handed over from a store's drawer: refused at once anywhere else
    (online, the hotline), before the line is locked or its blockers read, because no remedy
    makes it possible there."""
    if request.refund_route.kind == "cash" and store_code is None:
        raise DomainError(
            "REFUND_ROUTE_INVALID",
            "a cash refund is paid only at a store's counter; choose original, bank_card or "
            "transfer",
            errors=[{"field": "refund_route.kind", "reason": "cash only at a store"}],
        )


def refund_route(
    line: Line,
    target: Line | None,
    request: CancellationRequest,
    values: Values,
    loaded: snapshot.Loaded,
    store_code: str | None = None,
) -> RefundRoute:
    r = request.refund_route
    if r.kind == "cash" and store_code is not None:  # `cash_needs_a_counter` passed
        return RefundRoute(RefundRouteKind.CASH, store_code=store_code)
    if r.kind not in values.refund_routes:
        raise DomainError(
            "REFUND_ROUTE_INVALID",
            f"refund route {r.kind!r} is not offered in province {line.province_code}; "
            f"choose one of {', '.join(values.refund_routes)}",
        )
    if r.kind == "transfer":
        if (
            target is None
            or target.id == line.id
            or target.owner_id != line.owner_id
            or target.status != LineStatus.ACTIVE
        ):
            raise DomainError(
                "REFUND_ROUTE_INVALID",
                "a transfer needs another active line of the same owner",
                to_msisdn=r.to_msisdn,
            )
        return RefundRoute(RefundRouteKind.TRANSFER, to_msisdn=target.msisdn, to_line_id=target.id)
    if r.kind == "bank_card":
        account = (r.account or "").replace(" ", "")
        return RefundRoute(RefundRouteKind.BANK_CARD, account="****" + account[-4:])
    return RefundRoute(
        RefundRouteKind.ORIGINAL,
        method=loaded.route_kind or "gateway",
        account=loaded.route_account if loaded.route_kind else None,
    )


def token_for(ctx: Context, line: Line, quote_id: str) -> quotes.QuoteToken | None:
    token = quotes.verify(ctx.settings.key, quote_id)
    return token if token is not None and token.line_id == line.id else None


def quoted_bill(
    ctx: Context, line: Line, token: quotes.QuoteToken | None, quoted: snapshot.Loaded
) -> tuple[FinalBill, list[str]]:
    """The quote's final bill, priced again as of its creation date, and the warnings it
    showed; refused when the quote is not this line's, has expired, or the line changed."""
    if token is None:
        raise DomainError(
            "QUOTE_NOT_FOUND", f"no such quote for {mask_msisdn(line.msisdn)}; run the check"
        )
    if ctx.now() >= token.valid_until:
        raise DomainError(
            "QUOTE_EXPIRED",
            f"the quote expired at {token.valid_until.isoformat()}; run the check again",
        )
    if token.version != line.version:
        raise DomainError(
            "QUOTE_EXPIRED", "the line changed since the quote was made; run the check again"
        )
    if token.policy != policy_fingerprint(ctx):
        raise DomainError(
            "QUOTE_EXPIRED", "the operator's policy changed since the quote; run the check again"
        )
    day = local_date(token.created_at)
    values = policy_values(ctx, line.province_code, day)
    bill = rules.price(quoted.snapshot, values, day)
    if bill.shortfall_fen != 0:
        raise DomainError(
            "QUOTE_EXPIRED", "the line changed since the quote was made; run the check again"
        )
    shown = rules.warnings(quoted.snapshot, values, bill, cycle_closes_on(day))
    return bill, [w.code for w in shown]


def require_acknowledged(shown: list[str], acknowledged: list[str]) -> None:
    required = list(shown)
    if "UNBIND_INTERNET_ACCOUNTS" not in required:
        required.insert(0, "UNBIND_INTERNET_ACCOUNTS")
    missing = [c for c in required if c not in set(acknowledged)]
    if missing:
        raise DomainError(
            "WARNINGS_NOT_ACKNOWLEDGED",
            "acknowledge every warning of the quote: missing " + ", ".join(missing),
            missing=missing,
            errors=[{"field": "acknowledged_warnings", "reason": f"missing {c}"} for c in missing],
        )
