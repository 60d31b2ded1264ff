"""The pages' and the receipt's words: gettext catalogs managed by Babel, Chinese by default.

The English text is the message id; `locale/<locale>/LC_MESSAGES/messages.po` holds each
language's text (`make i18n` extracts, updates and compiles; the compiled `.mo` files are
committed so an installed package needs no build step, and a test keeps them in step with the
`.po`). Templates call `_()`/`ngettext()` (Jinja's i18n extension); a message picked at run time
by a code (a blocker, a status, a form error) is looked up by key in `MESSAGES` through
`message()`, which falls back to the error catalogue's own Chinese and English for an error code.
Times are shown in Beijing time with the zone named, in the language's own date format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.support import Translations
from fastapi import Request

from xiaohu.kit.clock import SHANGHAI

LANGS = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
LOCALES = {"zh": "zh_CN", "en": "en"}  # the catalogs' (and CLDR's) names for the languages
LOCALE_DIR = Path(__file__).parent / "locale"
STEPS = ("step_sign_in", "step_line", "step_check", "step_confirm", "step_done")

# A date and time with its zone: 2026年11月24日 10:00 (GMT+08:00) / Nov 24, 2026, 10:00 AM
# GMT+08:00 (the long GMT form: Babel cannot write the short "GMT+8").
DATETIME_PATTERNS = {"zh": "y年M月d日 HH:mm (OOOO)", "en": "MMM d, y, h:mm a OOOO"}


def N_(message: str) -> str:  # gettext's conventional name for "translate later"
    """Marks a message for `pybabel extract` where it is defined; translated where shown."""
    return message


# Messages chosen at run time by a key (a status, a blocker code, a form error, a notice).
MESSAGES: dict[str, str] = {
    "step_sign_in": N_("Sign in"),
    "step_line": N_("Line"),
    "step_check": N_("Check"),
    "step_confirm": N_("Confirm"),
    "step_done": N_("Done"),
    "code_sent": N_("A code was sent to %(number)s; it is valid for %(minutes)s minutes."),
    "otp_throttled": N_("A code was sent a moment ago; try again in %(wait)s seconds."),
    "session_expired": N_("Your session has ended; please sign in again."),
    "msisdn_invalid": N_("Enter an 11-digit mobile number."),
    "otp_invalid": N_("Enter the 6-digit code from the SMS."),
    "password_invalid": N_("The service password has 6 digits."),
    "line_not_found": N_("This number does not exist or is already closed."),
    "contract_kind_handset": N_("Handset contract"),
    "contract_kind_premium_number": N_("Premium-number minimum spend"),
    "contract_kind_converged": N_("Converged bundle contract"),
    "bundle_role_anchor": N_("Anchors a broadband bundle"),
    "bundle_role_member": N_("Member of a broadband bundle"),
    "family_role_primary": N_("Primary of a family group"),
    "family_role_member": N_("Member of a family group"),
    "status_active": N_("Active"),
    "status_arrears_suspended": N_("Suspended for arrears"),
    "status_retained": N_("Suspended, number kept"),
    "status_lost": N_("Reported lost"),
    "status_fraud_stop": N_("Fraud stop"),
    "status_judicial_freeze": N_("Judicial freeze"),
    "status_cancelled": N_("Cancelled"),
    "blocker_ARREARS": N_("Unpaid bills"),
    "blocker_ABNORMAL_STATE": N_("The line is blocked"),
    "blocker_NOT_REAL_NAME": N_("Not real-name registered"),
    "blocker_CONTRACT_ACTIVE": N_("Contract in term"),
    "blocker_PREMIUM_MIN_SPEND": N_("Premium-number minimum-spend agreement"),
    "blocker_BROADBAND_BOUND": N_("Broadband is anchored here"),
    "blocker_FAMILY_PRIMARY": N_("Primary of a family group"),
    "blocker_PENDING_ORDER": N_("Order in progress"),
    "blocker_BANK_COLLECTION_PENDING": N_("Direct debit in progress"),
    "blocker_CHANNEL_NOT_ALLOWED": N_("Not available online"),
    "blocker_ALREADY_CANCELLED": N_("Already closed"),
    "remedy_pay": N_("Pay %(amount)s now"),
    "remedy_done_pay": N_("Payment received."),
    "remedy_done_early_termination": N_("The contract has ended."),
    "remedy_done_move_anchor": N_("The broadband now hangs on your other number."),
    "remedy_done_cancel_broadband": N_("The broadband is cancelled."),
    "remedy_done_remove_members": N_("All members were removed."),
    "remedy_done_rehome": N_("The primary role was handed over."),
    "remedy_done_cancel_order": N_("The order is cancelled."),
    "charge_plan_fee_prorated": N_("Plan fee this month (by day)"),
    "charge_plan_fee": N_("Plan fee this month"),
    "charge_plan_fee_full_month": N_("Plan fee this month (full month)"),
    "charge_usage_unbilled": N_("Unbilled calls and data"),
    "charge_unbilled_usage": N_("Unbilled calls and data"),
    "charge_retention_fee": N_("Number retention fee"),
    "charge_penalty": N_("Penalty"),
    "name_required": N_("Enter the owner's name."),
    "id_required": N_("Enter the ID number."),
    "route_required": N_("Choose where the refund goes."),
    "account_invalid": N_("Enter a card number of 12 to 19 digits."),
    "to_msisdn_invalid": N_("Choose the number to credit."),
    "csrf_failed": N_("This page has expired; go back and try again."),
    "review_title_pay": N_("Confirm the payment"),
    "review_title_early_termination": N_("Confirm ending the contract"),
    "review_title_cancel_broadband": N_("Confirm cancelling the broadband"),
    "review_title_remove_members": N_("Confirm removing the members"),
    "review_title_cancel_order": N_("Confirm cancelling the order"),
    "pays_billed": N_("Bills issued and unpaid"),
    "pays_final_shortfall": N_(
        "The part of the final bill (this month's plan fee …) the balance does not cover"
    ),
    "from_online": N_("An online payment (separate; the line's balance is not touched)"),
    "from_cash": N_("The line's cash balance"),
    "from_gift": N_("The line's gift credit"),
    "from_penalty_payment": N_("An online payment of its own for the penalty"),
    "penalty_from_payment_why": N_(
        "The balance is needed for the final bill, so the penalty is paid by a payment of "
        "its own and the balance is left alone."
    ),
    "penalty_from_balance_why": N_("After the penalty the balance still covers the final bill."),
    "review_final_early_termination": N_(
        "An ended contract cannot be restored; undoing the cancellation later does not bring "
        "it back, and the penalty is not refunded."
    ),
    "review_final_cancel_broadband": N_(
        "Cancelled broadband cannot be restored; undoing the cancellation later does not "
        "bring it back."
    ),
    "review_final_remove_members": N_(
        "This cannot be undone; undoing the cancellation later does not bring the members "
        "back: they would join again."
    ),
    "review_final_cancel_order": N_("A cancelled order cannot be restored."),
    "review_confirm_pay": N_("Pay %(amount)s"),
    "review_confirm_early_termination": N_("Pay %(amount)s and end the contract"),
    "review_confirm_cancel_broadband": N_("Cancel the broadband"),
    "review_confirm_remove_members": N_("Remove the members"),
    "review_confirm_cancel_order": N_("Cancel the order"),
    "remedy_pay_bills": N_("Pay the %(amount)s owed online"),
    "id_type_resident_id": N_("resident ID card"),
    "id_type_passport": N_("passport"),
    "id_type_hk_macao_permit": N_("Mainland travel permit for Hong Kong and Macao residents"),
    "id_type_taiwan_permit": N_("Mainland travel permit for Taiwan residents"),
    "id_type_foreign_permanent_resident": N_("foreign permanent resident ID card"),
    "undo_not_restored": N_("Undoing does not restore what was done separately before: %(items)s."),
    "not_restored_contract": N_("contract %(ref)s, ended early (the penalty is not refunded)"),
    "not_restored_broadband": N_("broadband %(ref)s, cancelled"),
    "id_check_char_invalid": N_(
        "The last character of the ID number (its check character, GB 11643-1999) is wrong; "
        "check the number and enter it again."
    ),
    "id_number_invalid": N_("The ID number is malformed: 17 digits and a digit or X."),
    "not_found_title": N_("Page not found"),
    "not_found_body": N_("The page you asked for does not exist or has moved."),
    "method_not_allowed_title": N_("This page cannot be opened that way"),
    "method_not_allowed_body": N_("Please start again from the home page."),
    "server_error_title": N_("Something went wrong on our side"),
    "server_error_body": N_("Please try again in a moment; nothing was changed on your number."),
    "unavailable_title": N_("The service is unavailable for a moment"),
    "unavailable_body": N_("Please try again shortly; nothing was changed on your number."),
    "bad_request_title": N_("This request could not be handled"),
    "bad_request_body": N_("Something in what was sent is not valid. Please start again."),
    "cancelled_found": N_(
        "%(number)s is cancelled and receives no codes. Sign in with the reference."
    ),
    "reference_required": N_("Enter the reference."),
    "not_cancelled": N_("%(number)s is not a cancelled number: sign in with an SMS code."),
    "refund_status_pending": N_("Refund on its way"),
    "refund_status_paid": N_("Refunded"),
    "refund_status_failed": N_("The refund failed; we will contact you"),
    # The clerk console
    "not_a_clerk": N_(
        "Only store clerks can sign in to the counter console. Hotline agents, back office and "
        "administrators use their own tools."
    ),
    "staff_sign_in_failed": N_("The login or the password is wrong."),
    "login_required": N_("Enter your staff login."),
    "staff_password_required": N_("Enter your password."),
    "agent_name_required": N_("Enter the agent's name."),
    "id_type_required": N_("Choose the type of document."),
    "letter_required": N_("Enter the reference of the authorization letter."),
    "originals_required": N_("Confirm that you have seen the original documents."),
    "amount_invalid": N_("Enter an amount in yuan, such as 38 or 38.50."),
    "method_required": N_("Choose cash or card."),
    "method_cash": N_("Cash"),
    "method_card": N_("Card"),
    "refund_route_cash": N_("Cash from the drawer, now"),
    "refund_route_original": N_("The way they paid"),
    "refund_route_bank_card": N_("Bank card"),
    "refund_route_transfer": N_("The owner's other number"),
    "document_owner": N_("The owner's ID document"),
    "document_agent": N_("The agent's ID document"),
    "document_authorization_letter": N_("The authorization letter"),
    "cancellation_reversed": N_("Undone"),
    "movement_payment_received": N_("Payment taken"),
    "counter_lift_lost_state": N_("Lift the lost state now"),
    "counter_register_real_name": N_("Register the real name now"),
    "counter_done_lift_lost_state": N_("The lost state is lifted; the line is in service again."),
    "counter_done_register_real_name": N_("The real name is registered."),
    "movement_cancellation_refund": N_("Cash refund"),
}

CHANNELS = {"online": N_("Online"), "store": N_("Store"), "hotline": N_("Hotline")}
ROUTE_KINDS = {
    "alipay": N_("Alipay"),
    "wechat": N_("WeChat Pay"),
    "unionpay": N_("UnionPay"),
    "bank_card": N_("bank card"),
}
ROUTES = {
    "original": N_("The way you paid"),
    "bank_card": N_("Bank card"),
    "transfer": N_("My other number"),
    "cash": N_("Cash"),
}


@lru_cache(maxsize=len(LANGS))
def translations(lang: str) -> Translations:
    """The compiled catalog of a language; a missing one is an error, not English in disguise."""
    path = LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / "messages.mo"
    with path.open("rb") as fp:
        return Translations(fp, domain="messages")


def translate(text: str, lang: str) -> str:
    """A message id in `lang` (for text marked with N_ where it is defined)."""
    return translations(lang).gettext(text)


def negotiate(request: Request) -> str:
    """`?lang=` wins, then the cookie set by the switch; Chinese by default."""
    from xiaohu.web.session import LANG_COOKIE

    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGS:
            return candidate
    return "zh"


def _catalogue_message(key: str, lang: str) -> str | None:
    from xiaohu.kit.errors import CATALOG

    code = key.removeprefix("error_")
    kind = CATALOG.get(code)
    if kind is None:
        return None
    return kind.message if lang == "zh" else kind.message_en


def message(key: str, lang: str, **values: Any) -> str:
    """The message named by `key` in `lang`, its `%(name)s` placeholders filled; an error code
    reads as the error catalogue's text; an unknown key reads as itself."""
    source = MESSAGES.get(key)
    if source is None:
        return _catalogue_message(key, lang) or key
    text = translate(source, lang)
    return text % values if values else text


def local_time(value: dt.datetime | str | None, lang: str) -> str:
    """An instant in Beijing time with the zone shown, in the language's format."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return format_datetime(value, DATETIME_PATTERNS[lang], tzinfo=SHANGHAI, locale=LOCALES[lang])


def local_date(value: dt.date | str | None, lang: str) -> str:
    """A calendar day (a contract's end, the end of quarantine) in the language's format."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return format_date(value, "medium", locale=LOCALES[lang])


def province_name(code: str, lang: str) -> str:
    from xiaohu.regions.provinces import PROVINCES

    province = PROVINCES.get(code)
    if province is None:
        return code
    return province.short if lang == "zh" else province.name_en


def charge_label(item: str, lang: str) -> str:
    """'plan_fee_prorated' → 本月套餐费（按天）; 'penalty:C-1' → 违约金 C-1."""
    base, _, ref = item.partition(":")
    source = MESSAGES.get(f"charge_{base}")
    text = translate(source, lang) if source else base.replace("_", " ")
    return f"{text} {ref}" if ref else text


def route_label(route: Mapping[str, Any] | None, lang: str) -> str:
    """A refund route or payment route in words: '原路退回 (支付宝 zh***@example.com)'."""
    if not route:
        return ""
    kind = str(route.get("kind", ""))
    if kind == "transfer":
        return f"{translate(ROUTES['transfer'], lang)} {route.get('to_msisdn', '')}".strip()
    if kind == "original":
        method = route.get("method")
        via = {"kind": method, "account": route.get("account")} if method else None
        detail = route_label(via, lang) if via else ""
        return translate(ROUTES["original"], lang) + (f" ({detail})" if detail else "")
    source = ROUTE_KINDS.get(kind) or ROUTES.get(kind)
    name = translate(source, lang) if source else kind
    account = route.get("account")
    return f"{name} {account}" if account else name
