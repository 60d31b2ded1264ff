"""What the pages show, from the services' answers: plain dicts the templates can read.

The page handlers stay about HTTP (forms, redirects, cookies); this module knows which service
to call and how to shape its answer. Services are imported inside the functions: the pages
module is loaded by the app factory, and a page must not keep the whole app from starting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from xiaohu.kit.clock import local_date
from xiaohu.kit.crypto import derive
from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context
from xiaohu.web.i18n import CHANNELS, N_, charge_label, province_name, route_label
from xiaohu.web.receipt import ReceiptData, ReceiptLine, both

# Where on the confirm form a refusal belongs.
FIELD_OF_ERROR = {
    "REAL_NAME_MISMATCH": "real_name",
    "WARNINGS_NOT_ACKNOWLEDGED": "ack",
    "REFUND_ROUTE_INVALID": "route",
    "TARGET_LINE_INVALID": "route",
}
# Remedies a subscriber can carry out from the check page; the rest say where to go instead.
ONLINE_REMEDIES = frozenset(
    {"pay", "early_termination", "release_bundle", "release_family", "cancel_order"}
)


def as_dict(value: Any) -> Any:
    """A service answer (Pydantic model, dataclass, dict) as plain dicts and lists."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    return value


# --- the check -----------------------------------------------------------------------------


def run_check(ctx: Context, msisdn: str) -> dict[str, Any]:
    """The check, with each blocker marked as fixable online or not. A cancelled line answers
    `cancelled_id` so the page can show the done screen instead."""
    from xiaohu.cancellation import service

    result: dict[str, Any] = as_dict(service.check(ctx, msisdn, channel="online"))
    blockers = result.get("blockers") or []
    for b in blockers:
        if b["code"] == "ALREADY_CANCELLED":
            result["cancelled_id"] = b.get("cancellation_id") or latest_cancellation_id(ctx, msisdn)
            return result
    from xiaohu.lines.models import Line
    from xiaohu.web.remedies import target_of

    # A line that may not be closed online at all (its ID type) is closed at a store, which
    # sorts out the rest there too: only paying what is owed is still offered online, as a
    # payment in its own right, not as a step towards closing online.
    result["store_only"] = any(b["code"] == "CHANNEL_NOT_ALLOWED" for b in blockers)
    online = {"pay"} if result["store_only"] else ONLINE_REMEDIES
    for b in blockers:
        remedy = b.get("remedy") or {}
        b["online"] = remedy.get("action") in online
        b["target"] = target_of(b, msisdn)
    result["province_code"] = ctx.session.scalar(
        select(Line.province_code).where(Line.msisdn == msisdn)
    )
    result["fixable"] = [b for b in blockers if b["online"]]
    result["offline"] = [b for b in blockers if not b["online"]]
    warnings = result.get("warnings") or []
    # The reminder to unbind internet accounts is always first (a regulator requirement).
    warnings.sort(key=lambda w: w["code"] != "UNBIND_INTERNET_ACCOUNTS")
    result["warnings"] = warnings
    return result


def other_lines(ctx: Context, msisdn: str) -> list[str]:
    """The owner's other live lines: where broadband, a family group or a refund can go."""
    from xiaohu.lines.models import Line

    owner_id = ctx.session.scalar(select(Line.owner_id).where(Line.msisdn == msisdn))
    if owner_id is None:
        return []
    return list(
        ctx.session.scalars(
            select(Line.msisdn)
            .where(
                Line.owner_id == owner_id,
                Line.msisdn != msisdn,
                Line.status.in_(("active", "retained", "arrears_suspended")),
            )
            .order_by(Line.msisdn)
        )
    )


# --- confirm and cancel --------------------------------------------------------------------


def refund_routes(ctx: Context, msisdn: str) -> dict[str, Any]:
    """The refund routes policy allows here, and where 'original' would pay to."""
    from xiaohu.lines.models import Line, PaymentRoute

    line = ctx.session.scalars(select(Line).where(Line.msisdn == msisdn)).one()
    original = ctx.session.get(PaymentRoute, line.id)
    allowed = list(ctx.policy_for(line.province_code).refund_routes)
    return {
        "allowed": allowed,
        "original": {"kind": original.kind, "account": original.account} if original else None,
    }


def id_number_problem(id_type: str, number: str) -> str | None:
    """A resident ID that cannot be anyone's (wrong check character, GB 11643-1999; wrong
    shape) is named as such on its field, before any comparison with the owner."""
    from xiaohu.identity.rules import IdProblem, check_resident_id

    if id_type != "resident_id":
        return None
    try:
        check_resident_id(number)
    except IdProblem as exc:
        return "id_check_char_invalid" if "check character" in str(exc) else "id_number_invalid"
    return None


def owner_id_type(ctx: Context, msisdn: str) -> str:
    from xiaohu.lines.models import Line, Owner

    found = ctx.session.scalar(
        select(Owner.id_type).join(Line, Line.owner_id == Owner.id).where(Line.msisdn == msisdn)
    )
    return found or "resident_id"


def validate_cancel_form(form: dict[str, Any], id_type: str = "resident_id") -> dict[str, str]:
    """Field errors the subscriber can fix before anything is sent to the service."""
    errors: dict[str, str] = {}
    if not form.get("name"):
        errors["name"] = "name_required"
    if not form.get("id_number"):
        errors["id_number"] = "id_required"
    elif problem := id_number_problem(id_type, str(form["id_number"])):
        errors["id_number"] = problem
    route = form.get("route", "original")
    if route not in ("original", "bank_card", "transfer"):
        errors["route"] = "route_required"
    elif route == "bank_card" and not re.fullmatch(r"[0-9]{12,19}", form.get("account", "")):
        errors["account"] = "account_invalid"
    elif route == "transfer" and not re.fullmatch(r"1[0-9]{10}", form.get("to_msisdn", "")):
        errors["to_msisdn"] = "to_msisdn_invalid"
    if "UNBIND_INTERNET_ACCOUNTS" not in (form.get("ack") or []):
        errors["ack"] = "WARNINGS_NOT_ACKNOWLEDGED"
    return errors


def cancel(ctx: Context, msisdn: str, form: dict[str, Any]) -> str:
    """Cancel from the confirm form; the new cancellation's id."""
    from xiaohu.cancellation import service
    from xiaohu.cancellation.schemas import CancellationRequest

    route_kind = form.get("route", "original")
    route: dict[str, Any] = {"kind": route_kind}
    if route_kind == "bank_card":
        route["account"] = form.get("account")
    if route_kind == "transfer":
        route["to_msisdn"] = form.get("to_msisdn")
    try:
        request = CancellationRequest(
            msisdn=msisdn,
            quote_id=form.get("quote_id", ""),
            real_name={"name": form.get("name", ""), "id_number": form.get("id_number", "")},
            refund_route=route,
            acknowledged_warnings=list(form.get("ack") or []),
        )
    except ValidationError as exc:
        raise DomainError("VALIDATION_FAILED", str(exc)) from exc
    out = as_dict(service.cancel(ctx, msisdn, request, channel="online"))
    return str(out["id"])


# --- done ----------------------------------------------------------------------------------


def latest_cancellation_id(ctx: Context, msisdn: str) -> str | None:
    from xiaohu.cancellation.models import latest_cancellation
    from xiaohu.lines.models import Line

    line_id = ctx.session.scalar(select(Line.id).where(Line.msisdn == msisdn))
    latest = latest_cancellation(ctx.session, line_id) if line_id is not None else None
    return latest.id if latest is not None else None


def own_cancellation(ctx: Context, cancellation_id: str, msisdn: str) -> dict[str, Any]:
    """The cancellation as the done page shows it; only the signed-in line's own."""
    from xiaohu.cancellation import service
    from xiaohu.cancellation.models import Cancellation
    from xiaohu.cancellation.rules import undo_open

    row = ctx.session.get(Cancellation, cancellation_id)
    if row is None or row.msisdn != msisdn:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id} here")
    out: dict[str, Any] = as_dict(service.get_cancellation(ctx, cancellation_id))
    now = ctx.now()
    days = ctx.policy_for(row.province_code).quarantine_days
    out["quarantine_until"] = local_date(row.cancelled_at) + dt.timedelta(days=days)
    out["undo_open"] = undo_open(row, now)
    out["province_code"] = row.province_code
    out["not_restored"] = ended_by_remedies(ctx, msisdn, row.cancelled_at)
    return out


# Remedies are transactions of their own: a reversal of the cancellation does not undo them.
NOT_RESTORED = {
    "contract.terminated_early": ("contract", "contract_id"),
    "bundle.broadband_cancelled": ("broadband", "bundle_id"),
}


def ended_by_remedies(ctx: Context, msisdn: str, before: dt.datetime) -> list[dict[str, str]]:
    """What the line's remedies ended before the cancellation (from its audit trail), which a
    reversal does not bring back: early-terminated contracts, cancelled broadband."""
    from xiaohu.audit.models import AuditEvent

    events = ctx.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject == f"line:{msisdn}",
            AuditEvent.action.in_(tuple(NOT_RESTORED)),
            AuditEvent.occurred_at <= before,
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    out = []
    for e in events:
        kind, field = NOT_RESTORED[e.action]
        out.append({"kind": kind, "ref": str(e.data.get(field, ""))})
    return out


def not_restored_text(items: list[dict[str, str]], lang: str) -> str:
    """'撤销不会恢复…：已提前解约的合约 C-1（违约金不退）、已取消的宽带 BB-1。' or ''."""
    from xiaohu.web.i18n import message

    if not items:
        return ""
    sep = "、" if lang == "zh" else "; "
    listed = sep.join(message(f"not_restored_{i['kind']}", lang, ref=i["ref"]) for i in items)
    return message("undo_not_restored", lang, items=listed)


def reverse(ctx: Context, cancellation_id: str) -> None:
    from xiaohu.cancellation import service

    service.reverse(ctx, cancellation_id)


def verification_code(ctx: Context, reference: str) -> str:
    """A keyed code staff can recompute to tell a genuine receipt from an edited one."""
    digest = hmac.new(derive(ctx.settings.key, "receipt"), reference.encode(), hashlib.sha256)
    raw = digest.hexdigest()[:12].upper()
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def receipt_data(ctx: Context, cancellation_id: str, msisdn: str, lang: str) -> ReceiptData:
    from xiaohu.cancellation.models import Cancellation
    from xiaohu.overview.service import line_view

    row = ctx.session.get(Cancellation, cancellation_id)
    if row is None:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
    if row.msisdn != msisdn:
        raise DomainError("FORBIDDEN", "this receipt belongs to another line")
    done = own_cancellation(ctx, cancellation_id, msisdn)
    view = line_view(ctx, msisdn)
    home = province_name(row.province_code, "zh")
    if view.home.city and view.home.city != view.home.province:
        home = f"{home} {view.home.city}"
    charges = [
        ReceiptLine(charge_label(c["item"], "zh"), charge_label(c["item"], "en"), c["amount_fen"])
        for c in done.get("final_charges", [])
    ]
    if row.gift_applied_fen:  # shown as a negative charge: gift credit paid part of the bill
        gift_zh, gift_en = both(N_("Paid from gift credit"))
        charges.append(ReceiptLine(gift_zh, gift_en, -row.gift_applied_fen))
    refund = done.get("refund") or {}
    route = refund.get("route") or {}

    return ReceiptData(
        reference=done["reference"],
        msisdn=msisdn,
        owner_name_masked=view.owner.name_masked,
        id_number_masked=view.owner.id_number_masked,
        home=home,
        channel=" ".join(both(CHANNELS[row.channel])) if row.channel in CHANNELS else row.channel,
        cancelled_at=row.cancelled_at,
        undo_until=row.undo_until,
        quarantine_until=None if done["status"] == "reversed" else done["quarantine_until"],
        route=f"{route_label(route, 'zh')} / {route_label({'kind': route.get('kind')}, 'en')}",
        charges=charges,
        cash_balance_fen=None,
        refund_now_fen=int(refund.get("refund_now_fen") or 0),
        reserve_fen=int(refund.get("reserve_fen") or 0),
        forfeited_fen=int(done.get("forfeited_fen") or 0),
        status=done["status"],
        verification=verification_code(ctx, done["reference"]),
        reversed_at=row.reversed_at,
        not_restored_zh=not_restored_text(done["not_restored"], "zh"),
        not_restored_en=not_restored_text(done["not_restored"], "en"),
        refund_status=refund.get("status"),
    )
