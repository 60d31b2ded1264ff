"""Import record validation: one JSON object in, a typed `LineRecord` or a list of field errors.

Pure: no database, no clock. Every problem is reported (never just the first) as
`line N: field: reason` with a dotted field path (`contracts[1].kind`), so an operator can fix a
file of a million lines in one pass. Checks that need the whole file (a number twice, more than
five lines on one ID) live in `FileChecks`, fed record by record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, NamedTuple

from xiaohu.contracts.models import CONTRACT_KINDS
from xiaohu.identity.rules import IdProblem, normalise_document
from xiaohu.lines.models import ID_TYPES, IMPORTABLE_STATUSES
from xiaohu.regions.provinces import PROVINCES
from xiaohu.regions.rules import NumberProblem, check_msisdn, home_of_prefix

BUNDLE_ROLES = ("anchor", "member")
FAMILY_ROLES = ("primary", "member")
PAYMENT_ROUTE_KINDS = ("alipay", "wechat", "bank_card", "unionpay", "cash")
RECORD = "(record)"  # the field name of an error about the record as a whole

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
    }
)
REQUIRED = ("msisdn", "owner", "plan", "status")


@dataclass(frozen=True, slots=True)
class FieldError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class BillRec(NamedTuple):
    period: str
    amount_fen: int
    due_on: dt.date | None


class ContractRec(NamedTuple):
    ref: str
    kind: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    handset_list_price_fen: int
    handset_promo_price_fen: int
    gift_prestore_remaining_fen: int
    monthly_minimum_fen: int


@dataclass(slots=True)
class LineRecord:
    """One valid import record, typed and normalised (upper-case X in resident IDs)."""

    line: int
    msisdn: str
    status: str
    province_code: str
    city: str | None
    owner_name: str
    id_type: str
    id_number: str
    plan_code: str
    plan_name: str
    plan_monthly_fee_fen: int
    opened_on: dt.date | None = None
    real_name_verified: bool = True
    service_password: str | None = None
    cash_fen: int = 0
    gift_fen: int = 0
    unpaid_bills: list[BillRec] = field(default_factory=list)
    usage_unbilled_fen: int = 0
    usage_history_fen: list[int] = field(default_factory=list)  # oldest first, as in the file
    bundle: tuple[str, str | None, str] | None = None  # (id, broadband_account, role)
    family: tuple[str, str] | None = None  # (group_id, role)
    contracts: list[ContractRec] = field(default_factory=list)
    pending_orders: list[tuple[str, str]] = field(default_factory=list)  # (ref, kind)
    bank_collection_pending: bool = False
    payment_route: tuple[str, str | None] | None = None  # (kind, account)
    owner_hash: int = 0  # `owner_hash(owner_key)`, computed where the record is validated

    @property
    def owner_key(self) -> str:
        return f"{self.id_type}:{self.id_number}"

    def __reduce__(self) -> tuple[type[LineRecord], tuple[Any, ...]]:
        # Records cross process boundaries by the million: positional pickling is ~3x faster
        # than the default slot-by-slot state.
        return (
            LineRecord,
            (
                self.line,
                self.msisdn,
                self.status,
                self.province_code,
                self.city,
                self.owner_name,
                self.id_type,
                self.id_number,
                self.plan_code,
                self.plan_name,
                self.plan_monthly_fee_fen,
                self.opened_on,
                self.real_name_verified,
                self.service_password,
                self.cash_fen,
                self.gift_fen,
                self.unpaid_bills,
                self.usage_unbilled_fen,
                self.usage_history_fen,
                self.bundle,
                self.family,
                self.contracts,
                self.pending_orders,
                self.bank_collection_pending,
                self.payment_route,
                self.owner_hash,
            ),
        )


_LINE_FIELDS = tuple(f.name for f in fields(LineRecord))


class _Errors:
    """Collects the errors of one record."""

    __slots__ = ("errors", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.errors: list[FieldError] = []

    def add(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(self.line, path, reason))


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _str(
    e: _Errors, obj: dict[str, Any], key: str, path: str, *, max_len: int, required: bool
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            e.add(path, "required" if key not in obj else "must not be null")
        return None
    if not isinstance(value, str):
        e.add(path, f"must be a string, not {_type_name(value)}")
        return None
    value = value.strip()
    if required and not value:
        e.add(path, "must not be empty")
        return None
    if len(value) > max_len:
        e.add(path, f"must be at most {max_len} characters")
        return None
    return value


def _fen(e: _Errors, value: object, path: str) -> int:
    """A non-negative integer amount in fen; booleans, floats and strings are refused."""
    if type(value) is not int:
        e.add(path, f"must be a whole number of fen, not {_type_name(value)}")
        return 0
    if value < 0:
        e.add(path, f"must not be negative ({value})")
        return 0
    if value > 10**13:
        e.add(path, "is implausibly large")
        return 0
    return value


def _opt_fen(e: _Errors, obj: dict[str, Any], key: str, path: str) -> int:
    if obj.get(key) is None:
        return 0
    return _fen(e, obj[key], path)


def _date(e: _Errors, obj: dict[str, Any], key: str, path: str) -> dt.date | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        e.add(path, f"must be a date string YYYY-MM-DD, not {_type_name(value)}")
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        e.add(path, f"must be a date YYYY-MM-DD, not {value!r}")
        return None


def _period(e: _Errors, value: object, path: str) -> str | None:
    if not isinstance(value, str):
        e.add(path, f"must be a period string YYYY-MM, not {_type_name(value)}")
        return None
    ok = len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit()
    if not ok or not 1 <= int(value[5:]) <= 12:
        e.add(path, f"must be a period YYYY-MM, not {value!r}")
        return None
    return value


def _bool(e: _Errors, obj: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        e.add(path, f"must be true or false, not {_type_name(value)}")
        return default
    return value


def _choice(
    e: _Errors, obj: dict[str, Any], key: str, path: str, allowed: Iterable[str], what: str
) -> str | None:
    value = _str(e, obj, key, path, max_len=40, required=True)
    if value is None:
        return None
    options = tuple(allowed)
    if value not in options:
        e.add(path, f"unknown {what} {value!r}; one of {', '.join(options)}")
        return None
    return value


def _object(e: _Errors, value: object, path: str, allowed: frozenset[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        e.add(path, f"must be an object, not {_type_name(value)}")
        return None
    for key in value:
        if key not in allowed:
            e.add(f"{path}.{key}", "unknown field")
    return value


def _array(e: _Errors, value: object, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        e.add(path, f"must be an array, not {_type_name(value)}")
        return []
    return value


@lru_cache(maxsize=65536)
def _prefix_problem(prefix7: str) -> str | None:
    """Whether a 7-digit block is an allocated mobile range: the same answer for every number
    in the block, so it is asked once per block (a million-line import has a few thousand)."""
    try:
        check_msisdn(prefix7 + "0000")
    except NumberProblem as exc:
        return str(exc)
    return None


def check_number(msisdn: object) -> str | None:
    """The reason an msisdn is refused, or None. Same rules as `regions.rules.check_msisdn`."""
    if not isinstance(msisdn, str) or len(msisdn) != 11 or not msisdn.isdigit() or msisdn[0] != "1":
        return "must be an 11-digit mobile number starting with 1"
    return _prefix_problem(msisdn[:7])


_OWNER_FIELDS = frozenset({"name", "id_type", "id_number"})
_PLAN_FIELDS = frozenset({"code", "name", "monthly_fee_fen"})
_HOME_FIELDS = frozenset({"province_code", "city"})
_BALANCE_FIELDS = frozenset({"cash_fen", "gift_fen"})
_BILL_FIELDS = frozenset({"period", "amount_fen", "due_on"})
_BUNDLE_FIELDS = frozenset({"id", "broadband_account", "role"})
_FAMILY_FIELDS = frozenset({"group_id", "role"})
_ORDER_FIELDS = frozenset({"id", "kind"})
_ROUTE_FIELDS = frozenset({"kind", "account"})
_CONTRACT_FIELDS = frozenset(
    {
        "id",
        "kind",
        "starts_on",
        "ends_on",
        "handset_list_price_fen",
        "handset_promo_price_fen",
        "gift_prestore_remaining_fen",
        "monthly_minimum_fen",
    }
)
_CONTRACT_FEN = (
    "handset_list_price_fen",
    "handset_promo_price_fen",
    "gift_prestore_remaining_fen",
    "monthly_minimum_fen",
)


def validate_record(obj: object, line: int) -> tuple[LineRecord | None, list[FieldError]]:
    """Check one decoded JSON value; return the typed record, or None and every error."""
    e = _Errors(line)
    if not isinstance(obj, dict):
        e.add(RECORD, f"must be a JSON object, not {_type_name(obj)}")
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
        status = _choice(e, obj, "status", "status", IMPORTABLE_STATUSES, "status")

    province_code, city = _home(e, obj, msisdn)

    owner_name = id_type = id_number = None
    if obj.get("owner") is not None:
        owner = _object(e, obj["owner"], "owner", _OWNER_FIELDS)
        if owner is not None:
            owner_name = _str(e, owner, "name", "owner.name", max_len=100, required=True)
            id_type = _choice(e, owner, "id_type", "owner.id_type", ID_TYPES, "ID type")
            raw = _str(e, owner, "id_number", "owner.id_number", max_len=30, required=True)
            if raw is not None and id_type is not None:
                try:
                    id_number = normalise_document(id_type, raw)
                except IdProblem as exc:
                    e.add("owner.id_number", str(exc))

    plan_code = plan_name = None
    plan_fee = 0
    if obj.get("plan") is not None:
        plan = _object(e, obj["plan"], "plan", _PLAN_FIELDS)
        if plan is not None:
            plan_code = _str(e, plan, "code", "plan.code", max_len=40, required=True)
            plan_name = _str(e, plan, "name", "plan.name", max_len=100, required=True)
            if plan.get("monthly_fee_fen") is None:
                e.add("plan.monthly_fee_fen", "required")
            else:
                plan_fee = _fen(e, plan["monthly_fee_fen"], "plan.monthly_fee_fen")

    password = obj.get("service_password")
    if password is not None and not (
        isinstance(password, str) and len(password) == 6 and password.isdigit()
    ):
        e.add("service_password", "must be 6 digits")
        password = None

    cash = gift = 0
    if obj.get("balance") is not None:
        balance = _object(e, obj["balance"], "balance", _BALANCE_FIELDS)
        if balance is not None:
            cash = _opt_fen(e, balance, "cash_fen", "balance.cash_fen")
            gift = _opt_fen(e, balance, "gift_fen", "balance.gift_fen")

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
        opened_on=_date(e, obj, "opened_on", "opened_on"),
        real_name_verified=_bool(e, obj, "real_name_verified", "real_name_verified", True),
        service_password=password,
        cash_fen=cash,
        gift_fen=gift,
        unpaid_bills=_bills(e, obj.get("unpaid_bills")),
        usage_unbilled_fen=_opt_fen(e, obj, "usage_unbilled_fen", "usage_unbilled_fen"),
        usage_history_fen=[
            _fen(e, v, f"usage_history_fen[{i}]")
            for i, v in enumerate(_array(e, obj.get("usage_history_fen"), "usage_history_fen"))
        ],
        bundle=_bundle(e, obj.get("bundle")),
        family=_family(e, obj.get("family")),
        contracts=_contracts(e, obj.get("contracts")),
        pending_orders=_orders(e, obj.get("pending_orders")),
        bank_collection_pending=_bool(
            e, obj, "bank_collection_pending", "bank_collection_pending", False
        ),
        payment_route=_route(e, obj.get("payment_route")),
    )
    if e.errors:
        return None, e.errors
    record.owner_hash = owner_hash(record.owner_key)
    return record, []


def _home(e: _Errors, obj: dict[str, Any], msisdn: str | None) -> tuple[str | None, str | None]:
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
    home = _object(e, raw, "home", _HOME_FIELDS)
    if home is None:
        return None, None
    code = _str(e, home, "province_code", "home.province_code", max_len=2, required=True)
    if code is not None and code not in PROVINCES:
        e.add("home.province_code", f"unknown province {code!r} (GB/T 2260 two-digit code)")
        code = None
    city = _str(e, home, "city", "home.city", max_len=50, required=False)
    if code is not None and city is None and msisdn is not None:
        known = home_of_prefix(msisdn[:7])
        if known is not None and known.province_code == code:
            city = known.city
    return code, city


def _bills(e: _Errors, raw: object) -> list[BillRec]:
    out: list[BillRec] = []
    seen: set[str] = set()
    for i, item in enumerate(_array(e, raw, "unpaid_bills")):
        path = f"unpaid_bills[{i}]"
        bill = _object(e, item, path, _BILL_FIELDS)
        if bill is None:
            continue
        period = _period(e, bill.get("period"), f"{path}.period")
        if bill.get("amount_fen") is None:
            e.add(f"{path}.amount_fen", "required")
            amount = 0
        else:
            amount = _fen(e, bill["amount_fen"], f"{path}.amount_fen")
        due_on = _date(e, bill, "due_on", f"{path}.due_on")
        if period is not None:
            if period in seen:
                e.add(f"{path}.period", f"period {period} is listed twice")
            seen.add(period)
            out.append(BillRec(period, amount, due_on))
    return out


def _bundle(e: _Errors, raw: object) -> tuple[str, str | None, str] | None:
    if raw is None:
        return None
    bundle = _object(e, raw, "bundle", _BUNDLE_FIELDS)
    if bundle is None:
        return None
    ref = _str(e, bundle, "id", "bundle.id", max_len=40, required=True)
    account = _str(
        e, bundle, "broadband_account", "bundle.broadband_account", max_len=40, required=False
    )
    role = _choice(e, bundle, "role", "bundle.role", BUNDLE_ROLES, "bundle role")
    if ref is None or role is None:
        return None
    return ref, account, role


def _family(e: _Errors, raw: object) -> tuple[str, str] | None:
    if raw is None:
        return None
    family = _object(e, raw, "family", _FAMILY_FIELDS)
    if family is None:
        return None
    ref = _str(e, family, "group_id", "family.group_id", max_len=40, required=True)
    role = _choice(e, family, "role", "family.role", FAMILY_ROLES, "family role")
    if ref is None or role is None:
        return None
    return ref, role


def _contracts(e: _Errors, raw: object) -> list[ContractRec]:
    out: list[ContractRec] = []
    seen: set[str] = set()
    for i, item in enumerate(_array(e, raw, "contracts")):
        path = f"contracts[{i}]"
        c = _object(e, item, path, _CONTRACT_FIELDS)
        if c is None:
            continue
        ref = _str(e, c, "id", f"{path}.id", max_len=40, required=True)
        kind = _choice(e, c, "kind", f"{path}.kind", CONTRACT_KINDS, "contract kind")
        starts = _date(e, c, "starts_on", f"{path}.starts_on")
        ends = _date(e, c, "ends_on", f"{path}.ends_on")
        if starts and ends and ends < starts:
            e.add(f"{path}.ends_on", "is before starts_on")
        amounts = [_opt_fen(e, c, k, f"{path}.{k}") for k in _CONTRACT_FEN]
        if ref is not None and ref in seen:
            e.add(f"{path}.id", f"contract {ref} is listed twice")
        if ref is None or kind is None:
            continue
        seen.add(ref)
        out.append(ContractRec(ref, kind, starts, ends, *amounts))
    return out


def _orders(e: _Errors, raw: object) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(_array(e, raw, "pending_orders")):
        path = f"pending_orders[{i}]"
        o = _object(e, item, path, _ORDER_FIELDS)
        if o is None:
            continue
        ref = _str(e, o, "id", f"{path}.id", max_len=40, required=True)
        kind = _str(e, o, "kind", f"{path}.kind", max_len=40, required=True)
        if ref is not None and ref in seen:
            e.add(f"{path}.id", f"order {ref} is listed twice")
        if ref is not None and kind is not None:
            seen.add(ref)
            out.append((ref, kind))
    return out


def _route(e: _Errors, raw: object) -> tuple[str, str | None] | None:
    if raw is None:
        return None
    route = _object(e, raw, "payment_route", _ROUTE_FIELDS)
    if route is None:
        return None
    kind = _choice(e, route, "kind", "payment_route.kind", PAYMENT_ROUTE_KINDS, "route kind")
    account = _str(e, route, "account", "payment_route.account", max_len=100, required=False)
    return (kind, account) if kind is not None else None


# ---------------------------------------------------------------- checks across the file


def owner_hash(owner_key: str) -> int:
    """A compact key for counting lines per ID over millions of records."""
    return int.from_bytes(hashlib.blake2b(owner_key.encode(), digest_size=8).digest(), "big")


@dataclass
class FileChecks:
    """What the file has shown so far: each number's first line, each ID's numbers, each
    bundle's anchor and each family's primary. Feed valid records in file order.

    `db_lines_of(owner_keys)` answers, for IDs not seen before, the numbers already in the
    database under that ID (not cancelled); it is called once per new ID, in batches.
    """

    max_lines_per_id: int = 5
    first_line: dict[int, int] = field(default_factory=dict)  # msisdn -> line
    id_count: dict[int, int] = field(default_factory=dict)  # owner hash -> lines
    id_db_numbers: dict[int, frozenset[str]] = field(default_factory=dict)
    anchors: dict[str, int] = field(default_factory=dict)  # bundle id -> line
    primaries: dict[str, int] = field(default_factory=dict)  # family id -> line

    def check(
        self,
        records: list[LineRecord],
        db_lines_of: Callable[[list[LineRecord]], dict[str, frozenset[str]]],
    ) -> tuple[list[LineRecord], list[FieldError]]:
        """Split a batch (in file order) into records that pass and the errors of the rest."""
        hashes = {r.line: r.owner_hash or owner_hash(r.owner_key) for r in records}
        fresh = [r for r in records if hashes[r.line] not in self.id_count]
        if fresh:
            known = db_lines_of(fresh)
            for r in fresh:
                h = hashes[r.line]
                numbers = known.get(r.owner_key, frozenset())
                self.id_count.setdefault(h, len(numbers))
                if numbers:
                    self.id_db_numbers[h] = numbers
        ok: list[LineRecord] = []
        errors: list[FieldError] = []
        for r in records:
            h = hashes[r.line]
            problems = self._problems(r, h)
            if problems:
                errors.extend(problems)
                continue
            self._accept(r, h)
            ok.append(r)
        return ok, errors

    def _problems(self, r: LineRecord, h: int) -> list[FieldError]:
        out: list[FieldError] = []
        first = self.first_line.get(int(r.msisdn))
        if first is not None:
            out.append(FieldError(r.line, "msisdn", f"{r.msisdn} already appears on line {first}"))
        new_for_id = r.msisdn not in self.id_db_numbers.get(h, ())
        if new_for_id and self.id_count.get(h, 0) + 1 > self.max_lines_per_id:
            out.append(
                FieldError(
                    r.line,
                    "owner.id_number",
                    f"this ID would hold more than {self.max_lines_per_id} lines "
                    "(一证五号), counting lines already registered",
                )
            )
        if r.bundle and r.bundle[2] == "anchor":
            prev = self.anchors.get(r.bundle[0])
            if prev is not None:
                out.append(
                    FieldError(
                        r.line,
                        "bundle.role",
                        f"bundle {r.bundle[0]} already has its anchor on line {prev}",
                    )
                )
        if r.family and r.family[1] == "primary":
            prev = self.primaries.get(r.family[0])
            if prev is not None:
                out.append(
                    FieldError(
                        r.line,
                        "family.role",
                        f"family {r.family[0]} already has its primary on line {prev}",
                    )
                )
        return out

    def _accept(self, r: LineRecord, h: int) -> None:
        self.first_line[int(r.msisdn)] = r.line
        if r.msisdn not in self.id_db_numbers.get(h, ()):
            self.id_count[h] = self.id_count.get(h, 0) + 1
        if r.bundle and r.bundle[2] == "anchor":
            self.anchors[r.bundle[0]] = r.line
        if r.family and r.family[1] == "primary":
            self.primaries[r.family[0]] = r.line
