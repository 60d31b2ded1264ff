"""Import record validation: one JSON object in, a typed `LineRecord` or a list of field errors.

Pure: no database, no clock. Every problem is reported (never just the first) as
`line N: field: reason` with a dotted field path (`contracts[1].kind`), so an operator can fix a
file of a million lines in one pass. Checks that need the whole file (a number twice, more than
five lines on one ID) live in `FileChecks`, fed record by record.

Layout: the typed record in `record`, field readers in `field_rules`, the nested
sections in `record_sections`, cross-record checks in `file_checks`; the names are
re-exported here, where callers import them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from xiaohu.identity.rules import IdProblem, normalise_document
from xiaohu.intake.field_rules import (
    RecordErrors,
    check_number,
    read_array,
    read_bool,
    read_choice,
    read_date,
    read_fen,
    read_object,
    read_opt_fen,
    read_str,
    type_name,
)
from xiaohu.intake.file_checks import FileChecks
from xiaohu.intake.record import (
    RECORD,
    BillRec,
    ContractRec,
    FieldError,
    LineRecord,
    owner_hash,
)
from xiaohu.intake.record_sections import (
    BUNDLE_ROLES,
    FAMILY_ROLES,
    PAYMENT_ROUTE_KINDS,
    read_bills,
    read_bundle,
    read_contracts,
    read_family,
    read_orders,
    read_route,
)
from xiaohu.kit.bounds import is_digits
from xiaohu.lines.models import ID_TYPES, IMPORTABLE_STATUSES
from xiaohu.regions.provinces import PROVINCES
from xiaohu.regions.rules import home_of_prefix

__all__ = [
    "BUNDLE_ROLES",
    "FAMILY_ROLES",
    "PAYMENT_ROUTE_KINDS",
    "RECORD",
    "REQUIRED",
    "TOP_FIELDS",
    "BillRec",
    "ContractRec",
    "FieldError",
    "FileChecks",
    "LineRecord",
    "check_number",
    "owner_hash",
    "validate_record",
]

TOP_FIELDS = frozenset(
    {
        "msisdn",
        "status",
        "opened_on",
        "home",
        "real_name_verified",
        "owner",
        "service_password",
        "plan",
        "balance",
        "unpaid_bills",
        "usage_unbilled_fen",
        "usage_history_fen",
        "bundle",
        "family",
        "contracts",
        "pending_orders",
        "bank_collection_pending",
        "payment_route",
        "suspended_on",
        "retained_on",
    }
)
REQUIRED = ("msisdn", "owner", "plan", "status")


_OWNER_FIELDS = frozenset({"name", "id_type", "id_number"})
_PLAN_FIELDS = frozenset({"code", "name", "monthly_fee_fen"})
_HOME_FIELDS = frozenset({"province_code", "city"})
_BALANCE_FIELDS = frozenset({"cash_fen", "gift_fen"})


def validate_record(obj: object, line: int) -> tuple[LineRecord | None, list[FieldError]]:
    """Check one decoded JSON value; return the typed record, or None and every error."""
    e = RecordErrors(line)
    if not isinstance(obj, dict):
        e.add(RECORD, f"must be a JSON object, not {type_name(obj)}")
        return None, e.errors
    for key in obj:
        if key not in TOP_FIELDS:
            e.add(str(key), "unknown field")
    for key in REQUIRED:
        if obj.get(key) is None:
            e.add(key, "required")

    msisdn = obj.get("msisdn")
    if msisdn is not None:
        problem = check_number(msisdn)
        if problem:
            e.add("msisdn", problem)
            msisdn = None

    status = None
    if obj.get("status") is not None:
        status = read_choice(e, obj, "status", "status", IMPORTABLE_STATUSES, "status")

    province_code, city = _home(e, obj, msisdn)

    owner_name = id_type = id_number = None
    if obj.get("owner") is not None:
        owner = read_object(e, obj["owner"], "owner", _OWNER_FIELDS)
        if owner is not None:
            owner_name = read_str(e, owner, "name", "owner.name", max_len=100, required=True)
            id_type = read_choice(e, owner, "id_type", "owner.id_type", ID_TYPES, "ID type")
            raw = read_str(e, owner, "id_number", "owner.id_number", max_len=30, required=True)
            if raw is not None and id_type is not None:
                try:
                    id_number = normalise_document(id_type, raw)
                except IdProblem as exc:
                    e.add("owner.id_number", str(exc))

    plan_code = plan_name = None
    plan_fee = 0
    if obj.get("plan") is not None:
        plan = read_object(e, obj["plan"], "plan", _PLAN_FIELDS)
        if plan is not None:
            plan_code = read_str(e, plan, "code", "plan.code", max_len=40, required=True)
            plan_name = read_str(e, plan, "name", "plan.name", max_len=100, required=True)
            if plan.get("monthly_fee_fen") is None:
                e.add("plan.monthly_fee_fen", "required")
            else:
                plan_fee = read_fen(e, plan["monthly_fee_fen"], "plan.monthly_fee_fen")

    password = obj.get("service_password")
    if password is not None and not (
        isinstance(password, str) and len(password) == 6 and is_digits(password)
    ):
        e.add("service_password", "must be 6 digits")
        password = None

    cash = gift = 0
    if obj.get("balance") is not None:
        balance = read_object(e, obj["balance"], "balance", _BALANCE_FIELDS)
        if balance is not None:
            cash = read_opt_fen(e, balance, "cash_fen", "balance.cash_fen")
            gift = read_opt_fen(e, balance, "gift_fen", "balance.gift_fen")

    record = LineRecord(
        line=line,
        msisdn=msisdn or "",
        status=status or "",
        province_code=province_code or "",
        city=city,
        owner_name=owner_name or "",
        id_type=id_type or "",
        id_number=id_number or "",
        plan_code=plan_code or "",
        plan_name=plan_name or "",
        plan_monthly_fee_fen=plan_fee,
        opened_on=read_date(e, obj, "opened_on", "opened_on"),
        real_name_verified=read_bool(e, obj, "real_name_verified", "real_name_verified", True),
        service_password=password,
        cash_fen=cash,
        gift_fen=gift,
        unpaid_bills=read_bills(e, obj.get("unpaid_bills")),
        usage_unbilled_fen=read_opt_fen(e, obj, "usage_unbilled_fen", "usage_unbilled_fen"),
        usage_history_fen=[
            read_fen(e, v, f"usage_history_fen[{i}]")
            for i, v in enumerate(read_array(e, obj.get("usage_history_fen"), "usage_history_fen"))
        ],
        bundle=read_bundle(e, obj.get("bundle")),
        family=read_family(e, obj.get("family")),
        contracts=read_contracts(e, obj.get("contracts")),
        pending_orders=read_orders(e, obj.get("pending_orders")),
        bank_collection_pending=read_bool(
            e, obj, "bank_collection_pending", "bank_collection_pending", False
        ),
        payment_route=read_route(e, obj.get("payment_route")),
        suspended_on=_status_date(e, obj, "suspended_on", status, "arrears_suspended"),
        retained_on=_status_date(e, obj, "retained_on", status, "retained"),
    )
    if e.errors:
        return None, e.errors
    record.owner_hash = owner_hash(record.owner_key)
    return record, []


def _status_date(
    e: RecordErrors, obj: dict[str, Any], key: str, status: str | None, for_status: str
) -> dt.date | None:
    """`suspended_on` / `retained_on`: a date, only on a line of that status (not in the
    future: `FileChecks`, which knows the import's date)."""
    day = read_date(e, obj, key, key)
    if day is not None and status is not None and status != for_status:
        e.add(key, f"only for a line whose status is {for_status}, not {status}")
        return None
    return day


def _home(
    e: RecordErrors, obj: dict[str, Any], msisdn: str | None
) -> tuple[str | None, str | None]:
    """The given home, or the one the prefix tells; required when the prefix does not tell."""
    raw = obj.get("home")
    if raw is None:
        if msisdn is None:
            return None, None
        known = home_of_prefix(msisdn[:7])
        if known is None:
            e.add("home", f"required: the prefix {msisdn[:7]} does not tell the home province")
            return None, None
        return known.province_code, known.city
    home = read_object(e, raw, "home", _HOME_FIELDS)
    if home is None:
        return None, None
    code = read_str(e, home, "province_code", "home.province_code", max_len=2, required=True)
    if code is not None and code not in PROVINCES:
        e.add("home.province_code", f"unknown province {code!r} (GB/T 2260 two-digit code)")
        code = None
    city = read_str(e, home, "city", "home.city", max_len=50, required=False)
    if code is not None and city is None and msisdn is not None:
        known = home_of_prefix(msisdn[:7])
        if known is not None and known.province_code == code:
            city = known.city
    return code, city
