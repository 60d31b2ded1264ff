"""What the clerk console sends to the counter services and shows of their answers.

The console's handlers stay about HTTP (forms, cookies, redirects); this module turns a form
into the API's own request bodies (`counter.schemas`), calls the same services the API calls,
and shapes their answers as plain dicts for the templates. Services are imported inside the
functions, as in `web.views`: a page module must not keep the app from starting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from xiaohu.kit import idempotency
from xiaohu.kit.clock import SHANGHAI
from xiaohu.kit.errors import DomainError
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.web.views import as_dict, id_number_problem

MSISDN = re.compile(r"^1[0-9]{10}$")
ID_TYPES = (
    "resident_id",
    "passport",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_resident",
)
REFUND_KINDS = ("cash", "original", "bank_card", "transfer")
PAY_METHODS = ("cash", "card")
FEN = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,2})?$")  # yuan as typed at the counter, up to ¥9,999,999


# --- the documents -------------------------------------------------------------------------


def _person(form: dict[str, Any], who: str, errors: dict[str, str]) -> dict[str, str]:
    id_type = form.get(f"{who}_id_type") or "resident_id"
    if id_type not in ID_TYPES:
        errors[f"{who}_id_type"] = "id_type_required"
        id_type = "resident_id"
    name, number = form.get(f"{who}_name", ""), form.get(f"{who}_id_number", "").upper()
    if not name or len(name) > 100:
        errors[f"{who}_name"] = "name_required" if who == "owner" else "agent_name_required"
    if not number or len(number) > 40:
        errors[f"{who}_id_number"] = "id_required"
    elif problem := id_number_problem(id_type, number):
        errors[f"{who}_id_number"] = problem
    return {"id_type": id_type, "id_number": number, "name": name}


def documents_of(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's `documents` from the documents form, and the field errors the clerk can fix
    before anything is sent. The owner in person: the owner's document; a proxy (代办): the
    agent's document and the authorization letter too. The originals must have been seen."""
    errors: dict[str, str] = {}
    documents: dict[str, Any] = {"owner": _person(form, "owner", errors)}
    if form.get("mode") == "proxy":
        documents["agent"] = _person(form, "agent", errors)
        reference = form.get("letter_reference", "")
        if not reference or len(reference) > 60:
            errors["letter_reference"] = "letter_required"
        documents["authorization_letter"] = {"reference": reference}
    if form.get("originals_seen") != "1":
        errors["originals_seen"] = "originals_required"
    return documents, errors


def documents_form(documents: dict[str, Any]) -> dict[str, str]:
    """The documents back as form values (to show them again, with an error)."""
    out: dict[str, str] = {"mode": "proxy" if documents.get("agent") else "owner"}
    for who in ("owner", "agent"):
        for key, value in (documents.get(who) or {}).items():
            out[f"{who}_{key}"] = value
    out["letter_reference"] = (documents.get("authorization_letter") or {}).get("reference", "")
    return out


# --- the line and the check ----------------------------------------------------------------


def find_line(ctx: Context, msisdn: str) -> dict[str, Any]:
    """The line as the clerk sees it before any document is entered: owner masked."""
    from xiaohu.overview.service import line_view

    out: dict[str, Any] = as_dict(line_view(ctx, msisdn))
    return out


def check(ctx: Context, staff: StaffClaims, msisdn: str, documents: dict[str, Any]) -> Any:
    """The store check: every blocker at once, the warnings and the quote."""
    from xiaohu.counter import service
    from xiaohu.counter.schemas import StoreCheckIn

    body = _model(StoreCheckIn, {"msisdn": msisdn, "documents": documents})
    result: dict[str, Any] = as_dict(service.check(ctx, staff, body))
    warnings = result.get("warnings") or []
    warnings.sort(key=lambda w: w["code"] != "UNBIND_INTERNET_ACCOUNTS")  # always first
    result["warnings"] = warnings
    owed = [b for b in result.get("blockers") or [] if b["code"] == "ARREARS"]
    result["owed_fen"] = sum(int(b.get("amount_fen") or 0) for b in owed)
    return result


def _model(kind: Any, data: dict[str, Any]) -> Any:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        raise DomainError("VALIDATION_FAILED", str(exc)) from exc


def fen_of(text: str) -> int | None:
    """'38' or '38.00' yuan → 3800 fen; None when not an amount."""
    text = text.replace(",", "").replace("¥", "").strip()
    if not FEN.match(text):
        return None
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int((part + "00")[:2])


def once(
    ctx: Context,
    scope: str,
    key: str | None,
    body: dict[str, Any],
    work: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:
    """Run a money-moving call once per rendered form (its `form_key` is the Idempotency-Key):
    a form sent twice (a double click, a reload) replays the first answer."""
    if not key:
        return work()
    replay = idempotency.claim(ctx.session, scope, key, body, ctx.now())
    if replay is not None:
        return replay.status_code, replay.body
    try:
        status, payload = work()
    except DomainError:
        idempotency.release(ctx.session, scope, key)
        raise
    encoded = as_json(payload)
    idempotency.record(ctx.session, scope, key, status, encoded)
    return status, encoded


def as_json(payload: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(as_dict(payload))


def pay(
    ctx: Context, staff: StaffClaims, msisdn: str, form: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Take a payment at the counter (cash into the drawer, or card); the payment, or the
    field errors."""
    amount = fen_of(str(form.get("amount", "")))
    method = form.get("method", "")
    errors: dict[str, str] = {}
    if amount is None or amount <= 0:
        errors["amount"] = "amount_invalid"
    if method not in PAY_METHODS:
        errors["method"] = "method_required"
    if errors:
        return {}, errors
    from xiaohu.counter import service
    from xiaohu.counter.schemas import StorePaymentIn

    data = {"msisdn": msisdn, "amount_fen": amount, "method": method}
    body = _model(StorePaymentIn, data)
    # The rendered form's key is the payment's Idempotency-Key: a form sent twice (a double
    # click, a reload) takes the money once; cash has no gateway to catch the repeat.
    key = form.get("form_key") or None
    _, out = once(
        ctx,
        f"console-payment:{staff.store_code}",
        key,
        data,
        lambda: (201, service.pay(ctx, staff, body, idempotency_key=key)),
    )
    return {**dict(out), "amount_fen": amount, "method": method}, {}


def refund_route_of(form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    kind = form.get("route", "")
    route: dict[str, Any] = {"kind": kind}
    if kind not in REFUND_KINDS:
        errors["route"] = "route_required"
    elif kind == "bank_card":
        route["account"] = form.get("account", "")
        if not re.fullmatch(r"[0-9]{12,19}", route["account"]):
            errors["account"] = "account_invalid"
    elif kind == "transfer":
        route["to_msisdn"] = form.get("to_msisdn", "")
        if not MSISDN.match(route["to_msisdn"]):
            errors["to_msisdn"] = "to_msisdn_invalid"
    return route


def cancel(
    ctx: Context,
    staff: StaffClaims,
    msisdn: str,
    documents: dict[str, Any],
    form: dict[str, Any],
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Cancel at the counter: (201 or 202, the cancellation, {}) or (0, {}, field errors).
    Whether every warning was read out is the service's to judge (WARNINGS_NOT_ACKNOWLEDGED)."""
    errors: dict[str, str] = {}
    route = refund_route_of(form, errors)
    acked = [w for w in form.get("ack") or [] if isinstance(w, str)]
    if errors:
        return 0, {}, errors
    from xiaohu.counter import service
    from xiaohu.counter.schemas import StoreCancellationRequest

    data = {
        "msisdn": msisdn,
        "quote_id": form.get("quote_id", ""),
        "documents": documents,
        "refund_route": route,
        "acknowledged_warnings": acked,
    }
    body = _model(StoreCancellationRequest, data)
    status, out = once(
        ctx,
        f"console-cancellation:{staff.store_code}",
        form.get("form_key") or None,
        data,
        lambda: service.cancel(ctx, staff, body),
    )
    return status, dict(out), {}


COUNTER_ACTIONS = ("lift_lost_state", "register_real_name")


def clear_at_counter(
    ctx: Context, staff: StaffClaims, msisdn: str, documents: dict[str, Any], action: str
) -> None:
    """What the counter clears at once with the owner in person: a lost state lifted (解挂),
    the real name registered (实名补登记)."""
    from xiaohu.counter import service
    from xiaohu.counter.schemas import Documents

    if action not in COUNTER_ACTIONS:
        raise DomainError("VALIDATION_FAILED", f"unknown counter action {action!r}")
    seen = _model(Documents, documents)
    if action == "lift_lost_state":
        service.lift_lost_state(ctx, staff, msisdn, seen)
    else:
        service.register_real_name(ctx, staff, msisdn, seen)


def reverse(
    ctx: Context, staff: StaffClaims, cancellation_id: str, documents: dict[str, Any]
) -> None:
    from xiaohu.counter import service
    from xiaohu.counter.schemas import Documents

    service.reverse(ctx, staff, cancellation_id, _model(Documents, documents))


# --- after: the cancellation, the receipt, the drawer --------------------------------------


def _row(ctx: Context, staff: StaffClaims, cancellation_id: str) -> Any:
    """The cancellation (any clerk reads any, as the API's clerk token does)."""
    from xiaohu.cancellation.models import Cancellation

    row = ctx.session.get(Cancellation, cancellation_id)
    if row is None:
        raise DomainError("CANCELLATION_NOT_FOUND", f"no cancellation {cancellation_id}")
    return row


def cancellation(ctx: Context, staff: StaffClaims, cancellation_id: str) -> dict[str, Any]:
    """A cancellation as the console shows it."""
    from xiaohu.cancellation import service

    row = _row(ctx, staff, cancellation_id)
    out: dict[str, Any] = as_dict(service.get_cancellation(ctx, cancellation_id))
    out["channel"] = row.channel
    out["store_code"] = getattr(row, "store_code", None)
    out["staff_login"] = getattr(row, "staff_login", None)
    out["province_code"] = row.province_code
    return out


def receipt_pdf(
    ctx: Context, staff: StaffClaims, cancellation_id: str, lang: str
) -> tuple[str, bytes]:
    """The same receipt (销户证明) the subscriber downloads: its file name and bytes."""
    from xiaohu.web.receipt import render
    from xiaohu.web.views import receipt_data

    row = _row(ctx, staff, cancellation_id)
    data = receipt_data(ctx, cancellation_id, row.msisdn, lang)
    return f"xiaohu-receipt-{data.reference}.pdf", render(data)


def drawer(ctx: Context, store_code: str, day: dt.date) -> dict[str, Any]:
    from xiaohu.counter.drawer import report

    out: dict[str, Any] = as_dict(report(ctx, store_code, day))
    for m in out["movements"]:  # the day is in the heading: each movement's time of day
        m["time"] = m["at"].astimezone(SHANGHAI).strftime("%H:%M")
    return out
