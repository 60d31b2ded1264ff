"""Every number an operator may change, with its default from the research notes.

A policy file holds `[defaults]` and `[[override]]` tables; each override names a province, the
date it takes effect and only the values that differ. `Policy.for_province(code, day)` merges the
defaults with every override of that province in force on that day (later dates win).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GiftUse = Literal["plan_fee", "usage", "retention_fee", "penalty"]
RouteKind = Literal["original", "bank_card", "transfer"]


class Values(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # cancellation
    undo_window_hours: int = Field(24, ge=0, le=24 * 31)
    quarantine_days: int = Field(90, ge=0, le=3650)
    reclaim_fee_fen: int = Field(0, ge=0)  # the former owner takes the number back
    quote_valid_minutes: int = Field(15, ge=1, le=24 * 60)
    plan_fee_at_cancellation: Literal["prorate", "full_month"] = "prorate"
    # Which final charges gift credit may pay; whatever gift is left is forfeited.
    gift_may_pay: list[Literal["plan_fee", "usage", "retention_fee", "penalty"]] = [
        "plan_fee",
        "usage",
    ]
    refund_routes: list[Literal["original", "bank_card", "transfer"]] = [
        "original",
        "bank_card",
        "transfer",
    ]
    reserve_method: Literal["average", "none"] = "average"
    reserve_history_cycles: int = Field(3, ge=1, le=12)
    reserve_cap_fen: int = Field(5000, ge=0)
    arrears_scope: Literal["line", "owner"] = "line"
    online_id_types: list[str] = ["resident_id"]
    # Which kinds of store may cancel a line (a partner's hall by default may not).
    store_kinds_allowed: list[Literal["own_flagship", "own_standard", "partner"]] = [
        "own_flagship",
        "own_standard",
    ]
    # work orders: which store cancellations the home province's back office decides, and
    # in how many working days (Chinese working calendar) it answers
    review_fraud_stop: bool = True
    review_lifetime_term: bool = True
    review_cross_region: bool = False
    review_working_days: int = Field(2, ge=1, le=10)
    # contracts: penalty formulas
    handset_penalty_prestore_percent: int = Field(30, ge=0, le=100)
    # reserved: the one formula there is, which `contracts.rules.penalty` applies unasked
    premium_penalty: Literal["remaining_months_x_minimum"] = "remaining_months_x_minimum"
    converged_penalty_percent: int = Field(30, ge=0, le=100)
    # monthly bills: due on this day of the next month; what gift credit pays is `gift_may_pay`
    bill_due_day: int = Field(15, ge=1, le=28)
    # retention (停机保号): the fee a month, the longest stay in months (0: no limit while
    # nothing is owed), and whether the first month after joining is refused
    retention_fee_fen: int = Field(500, ge=0)
    retention_max_months: int = Field(12, ge=0)
    retention_first_month_blocked: bool = True
    # arrears: suspension the day after the due date plus these days; automatic cancellation
    # after this many calendar months of arrears suspension (or of unpaid retention fees),
    # warned by SMS these many days before; the debt then kept as a receivable or written off
    arrears_grace_days: int = Field(0, ge=0, le=90)
    auto_cancel_after_arrears_months: int = Field(3, ge=1, le=24)
    auto_cancel_warning_days: list[Annotated[int, Field(ge=1, le=365)]] = [30, 7, 1]
    auto_cancel_debt: Literal["receivable", "write_off"] = "receivable"
    # platforms: recycled-number check requests a minute, per platform (a platform may have
    # its own rate)
    platform_requests_per_minute: int = Field(100, ge=1, le=100_000)
    # sign-in
    otp_ttl_seconds: int = Field(300, ge=30, le=3600)
    otp_resend_seconds: int = Field(60, ge=0, le=3600)
    sign_in_max_failures: int = Field(5, ge=1, le=20)
    sign_in_lock_minutes: int = Field(30, ge=1, le=24 * 60)
    token_ttl_seconds: int = Field(1800, ge=60, le=86400)
    staff_token_ttl_seconds: int = Field(8 * 3600, ge=60, le=86400)  # a shift at the counter
    # real-name
    max_lines_per_id: int = Field(5, ge=1, le=20)
    real_name_max_mismatches: int = Field(5, ge=1, le=20)  # per line, then a pause
    real_name_window_minutes: int = Field(60, ge=1, le=24 * 60)


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    province: str = Field(pattern=r"^[0-9]{2}$")
    effective_from: dt.date
    values: dict[str, object]

    @model_validator(mode="after")
    def _known_fields(self) -> Override:
        unknown = set(self.values) - set(Values.model_fields)
        if unknown:
            raise ValueError(f"unknown policy value(s): {', '.join(sorted(unknown))}")
        Values.model_validate(self.values)  # type-check each value against the defaults' schema
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    defaults: Values = Values()
    overrides: list[Override] = []

    def for_province(self, province_code: str, day: dt.date) -> Values:
        merged = self.defaults.model_dump()
        applicable = sorted(
            (o for o in self.overrides if o.province == province_code and o.effective_from <= day),
            key=lambda o: o.effective_from,
        )
        for o in applicable:
            merged.update(o.values)
        return Values.model_validate(merged)
