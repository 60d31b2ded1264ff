"""The import record: one valid line of an import file, typed (its error, `FieldError`, is shared
by every import and lives in `kit.import_records`).

Shared by the record checks (`intake.rules`), the checks across the file (`intake.file_checks`)
and the importer. Records travel between processes by the million, hence the compact pickling.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from xiaohu.kit.import_records import RECORD, FieldError

__all__ = ["RECORD", "BillRec", "ContractRec", "FieldError", "LineRecord", "owner_hash"]


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
    suspended_on: dt.date | None = None  # arrears_suspended: the suspension day
    retained_on: dt.date | None = None  # retained: the day retention was applied for

    def lifecycle_dates(
        self, today: dt.date
    ) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
        """(arrears_since, retained_on, retention_starts_on) of the imported line, `today`
        being the import's date: an arrears-suspended line's clock runs from `suspended_on`, else
        from the import; a retained line pays the retention fee from the month after
        `retained_on`, or, without it, from the import's month (retained since before it)."""
        if self.status == "arrears_suspended":
            return self.suspended_on or today, None, None
        if self.status == "retained":
            since = self.retained_on or today.replace(day=1) - dt.timedelta(days=1)
            starts = (since.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            return None, self.retained_on, starts
        return None, None, None

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
                self.suspended_on,
                self.retained_on,
            ),
        )


def owner_hash(owner_key: str) -> int:
    """A compact key for counting lines per ID over millions of records."""
    return int.from_bytes(hashlib.blake2b(owner_key.encode(), digest_size=8).digest(), "big")
