"""Use cases: the check (a pure read), the cancellation, reading it, the reversal.

The check is the hot path (≥1,000/s): one query reads the line's snapshot (`snapshot.py`), the
rules price it and list its blockers and warnings, and the quote is a signed token
(`quotes.py`), not a row: the check writes nothing and runs in a read-only unit of work.

The cancellation honours the quoted amounts (the line's `version` unchanged means the same
snapshot, priced again as of the quote's date) and does everything in the caller's one
transaction: final bill, gift applied and forfeited, refund now, reserve kept, line cancelled,
number in quarantine, provisioning and SMS through the outbox, audit. It is written for few
round trips: the locked line is reused, the journal goes out in two multi-row inserts, the
final bill and the number are upserts, and the audit event comes last, because the province's
chain head stays locked from then until commit. A refusal is logged with its blocker codes and
raised with `keep_writes=True`: the unit of work commits the log with the 409 answer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from xiaohu.audit.service import append as audit
from xiaohu.billing.models import Bill, Refund, UsageRecord
from xiaohu.billing.rules import FinalBill
from xiaohu.cancellation import quotes, rules, snapshot
from xiaohu.cancellation.models import Cancellation, Refusal
from xiaohu.cancellation.schemas import (
    CancellationOut,
    CancellationRequest,
    CheckOut,
    RefundOut,
    SettlementOut,
)
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import confirm_real_name
from xiaohu.kit.clock import local_date, period_bounds, period_of
from xiaohu.kit.db import upsert
from xiaohu.kit.errors import DomainError
from xiaohu.kit.ids import new_id, reference
from xiaohu.kit.money import yuan
from xiaohu.ledger.models import JournalEntry, JournalTransaction
from xiaohu.ledger.rules import Posting, credit, debit
from xiaohu.ledger.service import Txn, post, post_many
from xiaohu.lines.models import Line
from xiaohu.lines.service import lock_line
from xiaohu.notifications.models import OutboxMessage
from xiaohu.notifications.service import PENDING_FLAG, order_provisioning, send_sms
from xiaohu.numbers import service as numbers
from xiaohu.policy.schema import Values
from xiaohu.runtime import Context

GATEWAY_CLEARING = "gateway_clearing"
REVERSAL_KIND = "cancellation.reversed"
REFUND_KIND = "cancellation.refund"


def receipt_url(cancellation_id: str) -> str:
    return f"/api/v1/cancellations/{cancellation_id}/receipt.pdf"


def cycle_closes_on(today: dt.date) -> dt.date:
    return period_bounds(period_of(today))[1]


# Merged policy values per (policy, province, day): merging re-validates a Pydantic model, which
# would cost more than the check's query. The policy object is kept in the entry, so its id
# cannot be reused by another policy while the entry lives.
_VALUES: dict[tuple[int, str, dt.date], tuple[object, Values]] = {}


_FINGERPRINTS: dict[int, tuple[object, str]] = {}


def policy_fingerprint(ctx: Context) -> str:
    """Of the whole policy (every province, every effective date): a quote made under one
    policy is not honoured under another."""
    policy = ctx.runtime.policy
    hit = _FINGERPRINTS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    value = quotes.fingerprint(policy.model_dump_json())
    _FINGERPRINTS[id(policy)] = (policy, value)
    return value


def policy_values(ctx: Context, province_code: str, day: dt.date) -> Values:
    """The province's policy in force on `day` (as `ctx.policy_for`, memoised)."""
    policy = ctx.runtime.policy
    key = (id(policy), province_code, day)
    hit = _VALUES.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    values = policy.for_province(province_code, day)
    if len(_VALUES) > 10_000:
        _VALUES.clear()
    _VALUES[key] = (policy, values)
    return values


# --- the check -------------------------------------------------------------------------


def _remedy_json(remedy: dict[str, Any] | None) -> dict[str, Any] | None:
    if remedy is None:
        return None
    return {"action": remedy["action"], "method": None, "href": None, **remedy}


def _notice_json(notice: dict[str, Any]) -> dict[str, Any]:
    """A notice as `NoticeOut` would serialise it: the declared fields first (null when
    absent), then the notice's own extra fields."""
    out = {
        "code": notice["code"],
        "message": notice["message"],
        "message_en": notice["message_en"],
        "amount_fen": notice.get("amount_fen"),
        "ends_on": notice.get("ends_on"),
        "remedy": _remedy_json(notice.get("remedy")),
    }
    out.update((k, v) for k, v in notice.items() if k not in out)
    return out


def _utc_json(at: dt.datetime) -> str:
    """An aware instant as Pydantic writes it (UTC with a `Z`)."""
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _quote_json(quote_id: str, valid_until: dt.datetime, bill: FinalBill) -> dict[str, Any]:
    return {
        "quote_id": quote_id,
        "valid_until": _utc_json(valid_until),
        "final_charges": [c.as_dict() for c in bill.charges],
        "cash_balance_fen": bill.cash_balance_fen,
        "gift_balance_fen": bill.gift_balance_fen,
        "charges_fen": bill.charges_fen,
        "penalties_fen": bill.penalties_fen,
        "gift_applied_fen": bill.gift_applied_fen,
        "refund_fen": bill.refund_fen,
        "refund_now_fen": bill.refund_now_fen,
        "reserve_fen": bill.reserve_fen,
        "forfeited_fen": bill.forfeited_fen,
    }


def _latest_cancellation(session: Session, line_id: int) -> Cancellation | None:
    return session.scalars(
        select(Cancellation)
        .where(Cancellation.line_id == line_id)
        .order_by(Cancellation.cancelled_at.desc())
        .limit(1)
    ).one_or_none()


def _already_cancelled(ctx: Context, line_id: int) -> dict[str, Any]:
    latest = _latest_cancellation(ctx.session, line_id)
    notice = rules.Notice(
        "ALREADY_CANCELLED", "该号码已销户。", "This number is already cancelled."
    )
    out = notice.as_dict()
    if latest is not None:
        out["cancellation_id"] = latest.id
        out["reference"] = latest.reference
        if latest.status == "cancelled" and ctx.now() < latest.undo_until:
            out["remedy"] = {
                "action": "reverse",
                "method": "POST",
                "href": f"/api/v1/cancellations/{latest.id}/reversal",
                "until": latest.undo_until.isoformat(),
            }
    return _notice_json(out)


def check_json(ctx: Context, msisdn: str, *, channel: str = "online") -> dict[str, Any]:
    """The check as the JSON document the API answers (the shape of `CheckOut`), built
    without a Pydantic round trip: every blocker, the warnings and a signed quote valid
    `quote_valid_minutes`. Reads only."""
    loaded = snapshot.load_by_msisdn(ctx.session, msisdn)
    snap = loaded.snapshot
    if snap.status == "cancelled":
        notice = _already_cancelled(ctx, snap.line_id)
        return {"eligible": False, "blockers": [notice], "warnings": [], "quote": None}
    now = ctx.now()
    today = local_date(now)
    values = policy_values(ctx, snap.province_code, today)
    bill = rules.price(snap, values, today)
    blockers = rules.check_cancellation(snap, values, today, channel, bill)
    warnings = rules.warnings(snap, values, bill, cycle_closes_on(today))
    token = quotes.issue(
        ctx.settings.key,
        line_id=snap.line_id,
        version=snap.version,
        usage_upto=loaded.usage_max_id,
        now=now,
        valid_minutes=values.quote_valid_minutes,
        policy=policy_fingerprint(ctx),
    )
    return {
        "eligible": not blockers,
        "blockers": [_notice_json(b.as_dict()) for b in blockers],
        "warnings": [_notice_json(w.as_dict()) for w in warnings],
        "quote": _quote_json(quotes.sign(ctx.settings.key, token), token.valid_until, bill),
    }


def check(ctx: Context, msisdn: str, *, channel: str = "online") -> CheckOut:
    """Every blocker, the warnings and a priced quote, as a model (the pages and tests)."""
    return CheckOut.model_validate(check_json(ctx, msisdn, channel=channel))


# --- refusals --------------------------------------------------------------------------


def record_refusal(
    ctx: Context,
    line: Line,
    channel: str,
    codes: tuple[str, ...],
    at: dt.datetime,
) -> None:
    """The subscriber's evidence: the refusal and its codes, in the log and the audit chain."""
    ctx.session.add(
        Refusal(
            line_id=line.id,
            province_code=line.province_code,
            channel=channel,
            codes=list(codes),
            at=at,
        )
    )
    ctx.session.flush()
    audit(
        ctx.session,
        at=at,
        actor=ctx.actor,
        action="cancellation.refused",
        subject=f"line:{line.msisdn}",
        province_code=line.province_code,
        data={"channel": channel, "codes": list(codes)},
    )


# --- the cancellation ------------------------------------------------------------------


def _lock_lines(ctx: Context, msisdn: str, other: str | None) -> tuple[Line, Line | None]:
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
    assert line is not None
    return line, locked[other]


def _route(
    line: Line,
    target: Line | None,
    request: CancellationRequest,
    values: Values,
    loaded: snapshot.Loaded,
) -> dict[str, Any]:
    r = request.refund_route
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
            or target.status != "active"
        ):
            raise DomainError(
                "REFUND_ROUTE_INVALID",
                "a transfer needs another active line of the same owner",
                to_msisdn=r.to_msisdn,
            )
        return {"kind": "transfer", "to_msisdn": target.msisdn, "to_line_id": target.id}
    if r.kind == "bank_card":
        account = (r.account or "").replace(" ", "")
        return {"kind": "bank_card", "account": "****" + account[-4:]}
    return {
        "kind": "original",
        "method": loaded.route_kind or "gateway",
        "account": loaded.route_account if loaded.route_kind else None,
    }


def _token_for(ctx: Context, line: Line, quote_id: str) -> quotes.QuoteToken | None:
    token = quotes.verify(ctx.settings.key, quote_id)
    return token if token is not None and token.line_id == line.id else None


def _quoted_bill(
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


def _require_acknowledged(shown: list[str], acknowledged: list[str]) -> None:
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


def cancel(
    ctx: Context, msisdn: str, request: CancellationRequest, *, channel: str = "online"
) -> CancellationOut:
    """Cancel the line at the quoted amounts, in the caller's transaction.

    Blocked: the refusal is logged (the subscriber's evidence) and CANCELLATION_BLOCKED raised
    with `keep_writes=True`. Nothing before the block check writes (locks and reads only), so
    what the caller commits with the 409 is exactly the refusal."""
    route_in = request.refund_route
    other = route_in.to_msisdn if route_in.kind == "transfer" else None
    line, target = _lock_lines(ctx, msisdn, other)
    now = ctx.now()
    if line.status == "cancelled":
        latest = _latest_cancellation(ctx.session, line.id)
        raise DomainError(
            "ALREADY_CANCELLED",
            f"line {mask_msisdn(msisdn)} is already cancelled",
            cancellation_id=latest.id if latest else None,
        )
    confirm_real_name(ctx, line, request.real_name.name, request.real_name.id_number)
    token = _token_for(ctx, line, request.quote_id)
    quoted, current = snapshot.load_for_cancel(
        ctx.session, line.id, token.usage_upto if token else 0
    )
    today = local_date(now)
    values = policy_values(ctx, line.province_code, today)
    blockers = rules.check_cancellation(current.snapshot, values, today, channel)
    if blockers:
        codes = tuple(b.code for b in blockers)
        record_refusal(ctx, line, channel, codes, now)
        raise DomainError(
            "CANCELLATION_BLOCKED",
            "the line cannot be cancelled now: " + ", ".join(codes),
            blockers=[b.as_dict() for b in blockers],
            keep_writes=True,
        )
    bill, shown = _quoted_bill(ctx, line, token, quoted)
    _require_acknowledged(shown, request.acknowledged_warnings)
    route = _route(line, target, request, values, current)
    assert token is not None
    with ctx.session.no_autoflush:
        return _execute(ctx, line, target, bill, route, values, channel, request.quote_id, token)


def _execute(
    ctx: Context,
    line: Line,
    target: Line | None,
    bill: FinalBill,
    route: dict[str, Any],
    values: Values,
    channel: str,
    quote_id: str,
    token: quotes.QuoteToken,
) -> CancellationOut:
    now = ctx.now()
    today = local_date(now)
    p = line.province_code
    charges_fen, from_cash = bill.charges_fen, bill.charges_from_cash_fen
    gift_applied, forfeited = bill.gift_applied_fen, bill.forfeited_fen
    refund_now, reserve = bill.refund_now_fen, bill.reserve_fen
    assert line.cash_fen == from_cash + refund_now + reserve, "quote does not add up"
    assert line.gift_fen == gift_applied + forfeited, "quote does not add up"

    row: dict[str, Any] = {
        "id": new_id(),
        "reference": reference("XH", p, today.isoformat()),
        "line_id": line.id,
        "msisdn": line.msisdn,
        "province_code": p,
        "handling_province_code": p,
        "channel": channel,
        "status": "cancelled",
        "account_status": "settling",
        "quote_id": quote_id,
        "cancelled_at": now,
        "undo_until": now + dt.timedelta(hours=values.undo_window_hours),
        "period": period_of(today),
        "final_charges": [ch.as_dict() for ch in bill.charges],
        "charges_fen": charges_fen,
        "refund_now_fen": refund_now,
        "reserve_fen": reserve,
        "forfeited_fen": forfeited,
        "route": route,
        "previous_status": line.status,
        "gift_applied_fen": gift_applied,
    }
    # Inserted at once (the refund row refers to it); `c` is the same row as an object, for
    # the answer. A later `find()` in this session reads it from the database.
    ctx.session.connection().execute(_CANCELLATIONS.insert(), row)
    c = Cancellation(**row)

    # The final bill: charged, paid from gift (where allowed) and cash; the rest of the gift
    # forfeited; the cash left refunded now, less the reserve kept on the line.
    if target is not None:
        to_leg = credit(f"subscriber_cash:{target.province_code}", refund_now, target.id)
        target.cash_fen += refund_now
        target.updated_at = now
    else:
        to_leg = credit(GATEWAY_CLEARING, refund_now)
    post_many(
        ctx.session,
        [
            *(
                Txn(
                    f"charge.{ch.item}",
                    [
                        debit(f"receivables:{p}", ch.amount_fen, line.id),
                        credit(f"revenue:{p}", ch.amount_fen),
                    ],
                    ref=c.id,
                )
                for ch in bill.charges
            ),
            Txn(
                "cancellation.final_bill_settled",
                [
                    debit(f"subscriber_gift:{p}", gift_applied, line.id),
                    debit(f"subscriber_cash:{p}", from_cash, line.id),
                    credit(f"receivables:{p}", charges_fen, line.id),
                ],
                ref=c.id,
            ),
            Txn(
                "cancellation.gift_forfeited",
                [
                    debit(f"subscriber_gift:{p}", forfeited, line.id),
                    credit(f"gift_forfeited:{p}", forfeited),
                ],
                ref=c.id,
            ),
            Txn(REFUND_KIND, [debit(f"subscriber_cash:{p}", refund_now, line.id), to_leg], c.id),
        ],
        at=now,
        province_code=p,
    )
    line.cash_fen = reserve
    line.gift_fen = 0
    _bill_final(ctx, line, c, token.usage_upto or None)
    messages: list[tuple[str, dict[str, Any]]] = []
    if refund_now > 0:
        messages += _refund_row(ctx, c, "now", refund_now, route)

    line.status = "cancelled"
    line.status_reason = "subscriber_request"
    line.status_changed_at = now
    line.updated_at = now
    numbers.quarantine(ctx, line, days=values.quarantine_days)
    messages.append(("network.provisioning", {"msisdn": line.msisdn, "action": "deprovision"}))
    text = (
        f"【销户服务】号码{mask_msisdn(line.msisdn)}已销户，受理编号{c.reference}。"
        f"立即退款{yuan(refund_now)}，预留{yuan(reserve)}将于账期结算后自动退还。"
        "请尽快解除该号码与银行、微信、支付宝等互联网账号的绑定。"
        f"如需恢复，请于{values.undo_window_hours}小时内申请返销。"
    )
    messages.append(("sms", {"to": line.msisdn, "text": text, "kind": "cancellation.completed"}))
    _emit(ctx, messages, at=now, province_code=p)
    ctx.session.flush()  # the line (and a transfer's target): the only ORM write
    # Last: from here to commit the province's audit chain head is locked.
    audit(
        ctx.session,
        at=now,
        actor=ctx.actor,
        action="cancellation.completed",
        subject=f"line:{line.msisdn}",
        province_code=p,
        data={
            "cancellation_id": c.id,
            "reference": c.reference,
            "channel": channel,
            "quote_id": c.quote_id,
            "charges_fen": charges_fen,
            "gift_applied_fen": gift_applied,
            "forfeited_fen": forfeited,
            "refund_now_fen": refund_now,
            "reserve_fen": reserve,
            "route": route["kind"],
            "undo_until": c.undo_until.isoformat(),
        },
    )
    return to_out(c)


_BILLS: Table = Bill.__table__  # type: ignore[assignment]
_CANCELLATIONS: Table = Cancellation.__table__  # type: ignore[assignment]
_REFUNDS: Table = Refund.__table__  # type: ignore[assignment]
_USAGE: Table = UsageRecord.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


def _bill_final(ctx: Context, line: Line, c: Cancellation, usage_upto: int | None) -> None:
    """The final bill row (paid in full), and the usage it took marked billed. A bill voided
    by a reversal is taken again: one final bill per line and period (an upsert)."""
    if c.charges_fen <= 0 and usage_upto is None:
        return
    bill_id = upsert(
        ctx.session,
        _BILLS,
        {
            "line_id": line.id,
            "province_code": line.province_code,
            "period": c.period,
            "kind": "final",
            "amount_fen": c.charges_fen,
            "paid_fen": c.charges_fen,
            "status": "paid",
            "due_on": local_date(c.cancelled_at),
            "created_at": c.cancelled_at,
        },
        key=["line_id", "period", "kind"],
        returning=_BILLS.c.id,
    ).scalar_one()
    if usage_upto is not None:
        ctx.session.connection().execute(
            update(_USAGE)
            .where(
                _USAGE.c.line_id == line.id,
                _USAGE.c.billed.is_(False),
                _USAGE.c.id <= usage_upto,
            )
            .values(billed=True, bill_id=bill_id)
        )


def _refund_row(
    ctx: Context, c: Cancellation, kind: str, amount: int, route: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """The refund record; returns the payout order for the gateway (an outbox message,
    delivered after commit), none for a transfer to another line."""
    refund_id = new_id()
    ctx.session.connection().execute(
        _REFUNDS.insert(),
        {
            "id": refund_id,
            "cancellation_id": c.id,
            "line_id": c.line_id,
            "province_code": c.province_code,
            "kind": kind,
            "amount_fen": amount,
            "route": route,
            "status": "paid",
            "created_at": ctx.now(),
        },
    )
    if route["kind"] == "transfer":
        return []
    payout = {"refund_id": refund_id, "msisdn": c.msisdn, "amount_fen": amount, "route": route}
    return [("payment.refund", payout)]


def _emit(
    ctx: Context,
    messages: list[tuple[str, dict[str, Any]]],
    *,
    at: dt.datetime,
    province_code: str,
) -> None:
    """Write outbox messages in one multi-row insert; delivered after commit. The payloads are
    those of `notifications.service` (`send_sms`, `order_provisioning`, a refund payout)."""
    rows = [
        {"topic": topic, "payload": payload, "province_code": province_code, "created_at": at}
        for topic, payload in messages
    ]
    ctx.session.connection().execute(_OUTBOX.insert(), rows)
    ctx.session.info[PENDING_FLAG] = True


# --- reading ---------------------------------------------------------------------------


def to_out(c: Cancellation) -> CancellationOut:
    settlement = None
    if c.account_status == "closed" and c.closed_at is not None:
        settlement = SettlementOut(
            trued_up_fen=c.trued_up_fen or 0,
            late_usage_fen=c.late_usage_fen or 0,
            shortfall_fen=c.shortfall_fen or 0,
            closed_at=c.closed_at,
        )
    route = {k: v for k, v in c.route.items() if k != "to_line_id"}
    return CancellationOut.model_validate(
        {
            "id": c.id,
            "reference": c.reference,
            "msisdn": c.msisdn,
            "status": c.status,
            "account_status": c.account_status,
            "cancelled_at": c.cancelled_at,
            "undo_until": c.undo_until,
            "reversed_at": c.reversed_at,
            "final_charges": c.final_charges,
            "charges_fen": c.charges_fen,
            "forfeited_fen": c.forfeited_fen,
            "refund": RefundOut(
                refund_now_fen=c.refund_now_fen, reserve_fen=c.reserve_fen, route=route
            ),
            "settlement": settlement,
            "receipt_url": receipt_url(c.id),
        }
    )


def find(ctx: Context, cancellation_id: str) -> Cancellation:
    c = ctx.session.get(Cancellation, cancellation_id)
    if c is None:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
    return c


def get_cancellation(ctx: Context, cancellation_id: str) -> CancellationOut:
    return to_out(find(ctx, cancellation_id))


# --- the reversal ----------------------------------------------------------------------


def reverse(ctx: Context, cancellation_id: str) -> CancellationOut:
    """Undo a cancellation inside the window (返销): the line and its services come back, the
    final charges and the gift forfeiture are reversed (the line goes on, and its cycle will be
    billed as usual), the reserve stays on the line as cash, the number leaves quarantine.

    What was paid out is not taken back: the refund went to the subscriber's account through
    the gateway (or to another of their lines) the moment the cancellation committed, so the
    subscriber keeps it and tops the line up if they want more on it. Repeating the reversal
    is harmless."""
    c = find(ctx, cancellation_id)
    line = lock_line(ctx.session, c.msisdn)
    ctx.session.refresh(c)
    if c.status == "reversed":
        return to_out(c)
    now = ctx.now()
    if c.account_status != "settling" or now >= c.undo_until:
        raise DomainError(
            "UNDO_WINDOW_CLOSED",
            f"the undo window closed at {c.undo_until.isoformat()}",
            undo_until=c.undo_until,
        )
    if line.id != c.line_id or line.status != "cancelled":
        raise DomainError("CONFLICT", "the line is no longer in the state this cancellation left")
    numbers.restore(ctx, line)
    with ctx.session.no_autoflush:
        cash, gift = _post_reverse_entries(ctx, c)
        line.cash_fen += cash
        line.gift_fen += gift
        _unbill_final(ctx, c)
        line.status = c.previous_status or "active"
        line.status_reason = "cancellation_reversed"
        line.status_changed_at = now
        line.updated_at = now
        c.status = "reversed"
        c.account_status = "reversed"
        c.reversed_at = now
        p = line.province_code
        kept = c.refund_now_fen
        order_provisioning(ctx.session, line.msisdn, "restore", at=now, province_code=p)
        send_sms(
            ctx.session,
            line.msisdn,
            f"【销户服务】受理编号{c.reference}的销户已撤销（返销），号码{mask_msisdn(line.msisdn)}"
            f"已恢复使用，销户费用已冲回，当前现金余额{yuan(line.cash_fen)}。"
            + (f"已退出的{yuan(kept)}不会收回，如需可随时充值。" if kept else ""),
            "cancellation.reversed",
            at=now,
            province_code=p,
        )
        ctx.session.flush()
    audit(
        ctx.session,
        at=now,
        actor=ctx.actor,
        action="cancellation.reversed",
        subject=f"line:{line.msisdn}",
        province_code=p,
        data={
            "cancellation_id": c.id,
            "reference": c.reference,
            "status": line.status,
            "cash_fen": line.cash_fen,
            "refund_kept_fen": kept,
        },
    )
    return to_out(c)


def _post_reverse_entries(ctx: Context, c: Cancellation) -> tuple[int, int]:
    """Post the mirror image of the cancellation's final bill and gift forfeiture (not of its
    refund, which was paid out); return the change to the line's cash and gift."""
    rows = ctx.session.execute(
        select(
            JournalEntry.account_code,
            JournalEntry.line_id,
            JournalEntry.debit_fen,
            JournalEntry.credit_fen,
        )
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            JournalTransaction.ref == c.id,
            JournalTransaction.kind.not_in([REVERSAL_KIND, REFUND_KIND]),
        )
        .order_by(JournalEntry.id)
    ).all()
    legs: list[Posting] = []
    deltas: dict[str, int] = defaultdict(int)
    for account, line_id, dr, cr in rows:
        legs.append(Posting(account, debit_fen=cr, credit_fen=dr, line_id=line_id))
        if line_id == c.line_id:
            deltas[account.partition(":")[0]] += dr - cr
    post(ctx.session, REVERSAL_KIND, legs, at=ctx.now(), ref=c.id, province_code=c.province_code)
    return deltas["subscriber_cash"], deltas["subscriber_gift"]


def _unbill_final(ctx: Context, c: Cancellation) -> None:
    """The final bill is void and the usage it took unbilled again: the cycle bills it."""
    bill = ctx.session.scalars(
        select(Bill).where(Bill.line_id == c.line_id, Bill.period == c.period, Bill.kind == "final")
    ).one_or_none()
    if bill is None:
        return
    ctx.session.execute(
        update(UsageRecord)
        .where(UsageRecord.bill_id == bill.id)
        .values(billed=False, bill_id=None)
        .execution_options(synchronize_session=False)
    )
    bill.status = "void"
