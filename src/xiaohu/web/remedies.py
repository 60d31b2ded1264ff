"""The check page's remedies: the confirmation screen before one moves money or cannot be
undone, and carrying it out.

A remedy button on the check page only opens its confirmation (a GET: nothing changes). The
confirmation states the amount, what it pays for and where the money comes from, read again
from the check and the services, never from the request; only its confirm button posts (with
the CSRF token). The check's blockers drive it: the remedy's own fields (`href`, amounts) say
which line a payment goes to, so a blocker owed on another line of the owner is paid there.
"""

from __future__ import annotations

import re
from typing import Any, cast
from urllib.parse import urlencode

from xiaohu.kit.errors import DomainError
from xiaohu.runtime import Context

# Remedies that move money or cannot be undone: each goes through a confirmation screen.
CONFIRM_FIRST = frozenset(
    {"pay", "early_termination", "cancel_broadband", "remove_members", "cancel_order"}
)
# The form fields that name what a remedy acts on (carried from the check to the confirm).
KEYS = ("action", "contract_id", "order_id", "target")
LINE_IN_HREF = re.compile(r"^/api/v1/lines/(1[0-9]{10})/")


def target_of(blocker: dict[str, Any], msisdn: str) -> str:
    """The line a remedy acts on: the one in its href (another line of the owner may owe)."""
    found = LINE_IN_HREF.match(str((blocker.get("remedy") or {}).get("href") or ""))
    return found.group(1) if found else msisdn


def review_url(form: dict[str, Any]) -> str:
    params = {k: form[k] for k in KEYS if form.get(k)}
    return "/line/remedy/review?" + urlencode(params)


def own_line(ctx: Context, msisdn: str, target: str) -> str:
    """A remedy may act on the signed-in line or another live line of the same owner."""
    from xiaohu.web.views import other_lines

    if target and target != msisdn and target not in other_lines(ctx, msisdn):
        raise DomainError("TARGET_LINE_INVALID", f"line {target} is not another line of yours")
    return target or msisdn


def _blocker_for(result: dict[str, Any], msisdn: str, params: dict[str, Any]) -> dict | None:
    action = params.get("action")
    remedy_action = {
        "pay": "pay",
        "early_termination": "early_termination",
        "cancel_broadband": "release_bundle",
        "remove_members": "release_family",
        "cancel_order": "cancel_order",
    }.get(str(action))
    for b in result.get("fixable") or []:
        if (b.get("remedy") or {}).get("action") != remedy_action:
            continue
        if action == "early_termination" and b.get("contract_id") != params.get("contract_id"):
            continue
        if action == "cancel_order" and b.get("order_id") != params.get("order_id"):
            continue
        if action == "pay" and params.get("target") and b["target"] != params["target"]:
            continue
        return b
    return None


def review(ctx: Context, msisdn: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """What the confirmation screen shows; None when the blocker is gone (already fixed)."""
    from xiaohu.web.views import run_check

    result = run_check(ctx, msisdn)
    b = _blocker_for(result, msisdn, params)
    if b is None:
        return None
    action = params["action"]
    out: dict[str, Any] = {"action": action, "blocker": b, "fields": {"action": action}}
    if action == "pay":
        amount = int(b["remedy"].get("amount_fen") or b.get("amount_fen") or 0)
        out.update(amount_fen=amount, target=b["target"], sources=[("from_online", amount)])
        out["fields"].update(amount_fen=str(amount), target=b["target"])
        out["pays_for"] = [
            ("pays_billed", int(b.get("billed_fen") or 0)),
            ("pays_final_shortfall", int(b.get("final_bill_shortfall_fen") or 0)),
        ]
    elif action == "early_termination":
        from xiaohu.contracts.service import preview_termination

        plan = preview_termination(ctx, msisdn, str(b["contract_id"]))
        split = plan.split
        out.update(amount_fen=plan.owed.amount_fen, contract=b, split=split)
        out["sources"] = [
            (key, fen)
            for key, fen in (
                ("from_gift", split.from_gift),
                ("from_cash", split.from_cash),
                ("from_penalty_payment", split.from_payment),
            )
            if fen
        ]
        # What was shown is what is done: the confirm names the source explicitly.
        pay_with = {"balance": "balance", "payment": "payment"}.get(split.source, "balance_first")
        out["fields"].update(contract_id=b["contract_id"], pay_with=pay_with)
    elif action == "cancel_order":
        out["fields"].update(order_id=b["order_id"])
    return out


def apply_remedy(ctx: Context, msisdn: str, action: str, form: dict[str, Any]) -> None:
    """Carry out one remedy confirmed on its confirmation screen (or one that needs none)."""
    if action == "pay":
        from xiaohu.billing.service import pay

        target = own_line(ctx, msisdn, str(form.get("target") or ""))
        amount = int(form.get("amount_fen") or 0)
        pay(ctx, target, amount, idempotency_key=form.get("form_key") or None, method="online")
    elif action == "early_termination":
        from xiaohu.contracts.rules import PAY_WITH
        from xiaohu.contracts.service import PayWith, terminate_early

        pay_with = form.get("pay_with") or "auto"
        if pay_with not in PAY_WITH:
            raise DomainError("VALIDATION_FAILED", f"unknown pay_with {pay_with!r}")
        terminate_early(
            ctx,
            msisdn,
            form.get("contract_id", ""),
            pay_with=cast(PayWith, pay_with),
            idempotency_key=form.get("form_key") or None,
        )
    elif action in ("move_anchor", "cancel_broadband"):
        from xiaohu.lines.bundles import release_bundle

        release_bundle(ctx, msisdn, action, form.get("to_msisdn") or None)  # type: ignore[arg-type]
    elif action in ("remove_members", "rehome"):
        from xiaohu.lines.bundles import release_family

        release_family(ctx, msisdn, action, form.get("to_msisdn") or None)  # type: ignore[arg-type]
    elif action == "cancel_order":
        from xiaohu.lines.bundles import cancel_order

        cancel_order(ctx, msisdn, form.get("order_id", ""))
    else:
        raise DomainError("VALIDATION_FAILED", f"unknown remedy {action!r}")
