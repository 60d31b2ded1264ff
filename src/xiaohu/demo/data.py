"""Synthetic but realistic import data for the demo and the benchmarks.

Deterministic by seed (Faker and `random.Random` are both seeded; no clock is read), so the
same seed gives the same bytes. Numbers come from real 7-digit prefixes of every province,
found by asking the phone-number geocoder about the mobile blocks.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

from xiaohu.identity.rules import resident_id_check_char
from xiaohu.intake.rules import check_number
from xiaohu.kit.progress import progress
from xiaohu.regions.rules import home_of_prefix

if TYPE_CHECKING:
    from faker import Faker

# Faker is an optional extra (`xiaohu[demo]`): only making demo data needs it.
INSTALL_HINT = "demo data needs Faker: pip install 'xiaohu[demo]'"


class FakerMissing(RuntimeError):
    """Faker is not installed; the message says how to install it."""


MOBILE_BLOCKS = (
    *range(130, 140),
    145,
    146,
    147,
    150,
    151,
    152,
    153,
    *range(155, 160),
    166,
    *range(172, 179),
    *range(180, 190),
    191,
    193,
    195,
    196,
    197,
    198,
    199,
)
# Every 17th 7-digit prefix of each block: thousands of real prefixes, every province, and
# a table built in about a second rather than the fifteen a full scan takes.
_STRIDE = 17


@lru_cache(maxsize=1)
def prefix_table() -> dict[str, tuple[str, ...]]:
    """Province code -> allocated 7-digit mobile prefixes in that province, in a fixed order."""
    table: dict[str, list[str]] = {}
    for block in MOBILE_BLOCKS:
        for i in range(block % _STRIDE, 10000, _STRIDE):
            prefix = f"{block}{i:04d}"
            home = home_of_prefix(prefix)
            if home is not None and check_number(prefix + "0000") is None:
                table.setdefault(home.province_code, []).append(prefix)
    return {code: tuple(prefixes) for code, prefixes in sorted(table.items())}


# ------------------------------------------------------------------ the generator

# Dates are laid out around this day (the demo's "today"); the generator never reads a clock.
REFERENCE_DAY = dt.date(2026, 11, 24)
# Every demo line's service password, so the demo can sign in (synthetic data only).
DEMO_PASSWORD = "135790"  # noqa: S105

PLANS = (
    ("4G-18", "4G飞享18元", 1800),
    ("4G-58", "4G畅享58元", 5800),
    ("5G-129", "5G畅享129元", 12900),
    ("5G-199", "5G畅享199元", 19900),
    ("5G-39", "5G智享39元", 3900),
    ("KING-19", "王卡19元", 1900),
)
ROUTES = (("alipay", 40), ("wechat", 35), ("bank_card", 12), ("unionpay", 5), ("cash", 8))
FOREIGN_IDS = (
    ("passport", "E{:08d}"),
    ("hk_macao_permit", "H{:08d}"),
    ("taiwan_permit", "T{:08d}"),
    ("foreign_permanent_resident", "USA{:09d}"),
)


@dataclass
class _Family:
    ref: str
    members: int = 0


@dataclass
class _State:
    """What the generator remembers across records: used numbers and open family groups."""

    rng: random.Random
    fake: Faker
    provinces: list[str]
    weights: list[int]
    used: set[str] = field(default_factory=set)
    # Open family groups by province: a group's lines share a home province, so a national
    # deployment holds each group whole on one node.
    families: dict[str, list[_Family]] = field(default_factory=dict)
    serial: int = 0

    def next_ref(self) -> int:
        self.serial += 1
        return self.serial


def _msisdn(st: _State, province: str) -> str:
    prefixes = prefix_table()[province]
    while True:
        number = f"{st.rng.choice(prefixes)}{st.rng.randrange(10000):04d}"
        if number not in st.used:
            st.used.add(number)
            return number


def _day(st: _State, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=st.rng.randrange(max(1, (end - start).days)))


def _resident_id(st: _State, province: str) -> str:
    birth = _day(st, dt.date(1950, 1, 1), dt.date(2006, 1, 1))
    first17 = (
        f"{province}{st.rng.randrange(1, 20):02d}{st.rng.randrange(1, 30):02d}"
        f"{birth:%Y%m%d}{st.rng.randrange(1000):03d}"
    )
    return first17 + resident_id_check_char(first17)


def _owner(st: _State, province: str) -> dict[str, str]:
    if st.rng.random() < 0.02:
        id_type, pattern = st.rng.choice(FOREIGN_IDS)
        number = pattern.format(st.rng.randrange(10**8))
        return {"name": st.fake.name(), "id_type": id_type, "id_number": number}
    return {
        "name": st.fake.name(),
        "id_type": "resident_id",
        "id_number": _resident_id(st, province),
    }


def _record(st: _State, owner: dict[str, str], province: str, role: str) -> dict[str, Any]:
    """One line. `role` is 'first' for an owner's first line, 'other' for their 2nd or 3rd."""
    rng = st.rng
    n = st.next_ref()
    msisdn = _msisdn(st, province)
    code, name, fee = rng.choice(PLANS)
    opened = _day(st, dt.date(2008, 1, 1), REFERENCE_DAY - dt.timedelta(days=45))
    rec: dict[str, Any] = {
        "msisdn": msisdn,
        "status": "active",
        "opened_on": opened.isoformat(),
        "real_name_verified": rng.random() >= 0.005,
        "owner": owner,
        "service_password": DEMO_PASSWORD,
        "plan": {"code": code, "name": name, "monthly_fee_fen": fee},
        "balance": {
            "cash_fen": int(rng.paretovariate(1.6) * 1500) - 1500 + rng.randrange(0, 3000),
            "gift_fen": rng.choice((1000, 2000, 5000, 10000)) if rng.random() < 0.15 else 0,
        },
    }
    roll = rng.random()
    if roll < 0.01:
        rec["status"] = rng.choice(("lost", "fraud_stop", "judicial_freeze"))
    elif roll < 0.04:
        rec["status"] = "retained"
    if rng.random() < 0.08:  # arrears: one to three unpaid cycles
        months = rng.randint(1, 3)
        rec["balance"]["cash_fen"] = 0
        rec["unpaid_bills"] = [
            {
                "period": _period_back(months - i),
                "amount_fen": fee + rng.randrange(0, 3000),
                "due_on": _due_of(months - i),
            }
            for i in range(months)
        ]
        if rec["status"] == "active" and months >= 2:
            rec["status"] = "arrears_suspended"
            # suspended the day after the oldest unpaid bill fell due (no grace, the default)
            suspended = dt.date.fromisoformat(_due_of(months)) + dt.timedelta(days=1)
            rec["suspended_on"] = min(suspended, REFERENCE_DAY).isoformat()
    if rec["status"] == "retained":  # retained 3 weeks to 13 months ago (no extra draw: the
        # stream of the other fields stays as it was)
        rec["retained_on"] = (REFERENCE_DAY - dt.timedelta(days=20 + n % 380)).isoformat()
    if rng.random() < 0.9:
        rec["usage_history_fen"] = [rng.randrange(0, 6000) for _ in range(rng.randint(3, 6))]
    if rng.random() < 0.6:
        rec["usage_unbilled_fen"] = rng.randrange(0, 2500)
    contracts = []
    if rng.random() < 0.10 and role == "first":
        rec["bundle"] = {
            "id": f"BB-{n}",
            "broadband_account": f"0{rng.randrange(10**10):010d}",
            "role": "anchor",
        }
        if rng.random() < 0.5:
            starts = _day(st, REFERENCE_DAY - dt.timedelta(days=700), REFERENCE_DAY)
            contracts.append(
                {
                    "id": f"CV-{n}",
                    "kind": "converged",
                    "starts_on": starts.isoformat(),
                    "ends_on": (starts + dt.timedelta(days=730)).isoformat(),
                    "monthly_minimum_fen": fee,
                }
            )
    if rng.random() < 0.12:
        in_term = rng.random() < 0.8
        starts = (
            _day(st, REFERENCE_DAY - dt.timedelta(days=700), REFERENCE_DAY - dt.timedelta(days=30))
            if in_term
            else _day(st, dt.date(2019, 1, 1), REFERENCE_DAY - dt.timedelta(days=800))
        )
        price = rng.choice((299900, 459900, 599900, 799900, 999900))
        contracts.append(
            {
                "id": f"C-{n}",
                "kind": "handset",
                "starts_on": starts.isoformat(),
                "ends_on": (starts + dt.timedelta(days=730)).isoformat(),
                "handset_list_price_fen": price,
                "handset_promo_price_fen": price // 2,
                "gift_prestore_remaining_fen": rng.randrange(0, 120000, 100),
            }
        )
    if rng.random() < 0.02:
        starts = _day(st, dt.date(2015, 1, 1), REFERENCE_DAY - dt.timedelta(days=60))
        lifetime = rng.random() < 0.4
        ends = None if lifetime else (starts + dt.timedelta(days=365 * 5)).isoformat()
        contracts.append(
            {
                "id": f"P-{n}",
                "kind": "premium_number",
                "starts_on": starts.isoformat(),
                "ends_on": ends,
                "monthly_minimum_fen": rng.choice((5800, 8800, 13800, 18800)),
            }
        )
    if contracts:
        rec["contracts"] = contracts
    _family_of(st, rec, n, province)
    if rng.random() < 0.01:
        rec["pending_orders"] = [
            {"id": f"O-{n}", "kind": rng.choice(("plan_change", "number_port", "sim_replacement"))}
        ]
    if rng.random() < 0.005:
        rec["bank_collection_pending"] = True
    route = rng.choices([k for k, _ in ROUTES], weights=[w for _, w in ROUTES])[0]
    rec["payment_route"] = {"kind": route, "account": _route_account(st, route)}
    return rec


def _family_of(st: _State, rec: dict[str, Any], n: int, province: str) -> None:
    rng = st.rng
    families = st.families.setdefault(province, [])
    if rng.random() < 0.06:
        family = _Family(f"F-{n}")
        families.append(family)
        del families[:-20]  # members join recent groups
        rec["family"] = {"group_id": family.ref, "role": "primary"}
    elif families and rng.random() < 0.08:
        family = rng.choice(families)
        family.members += 1
        if family.members >= 3:
            families.remove(family)
        rec["family"] = {"group_id": family.ref, "role": "member"}


def _route_account(st: _State, kind: str) -> str | None:
    if kind == "cash":
        return None
    if kind in ("bank_card", "unionpay"):
        return f"6222 **** **** {st.rng.randrange(10000):04d}"
    return f"{st.fake.user_name()[:2]}***@example.com" if kind == "alipay" else "wxid_***"


def _period_back(months: int) -> str:
    year, month = REFERENCE_DAY.year, REFERENCE_DAY.month - months
    while month <= 0:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def _due_of(months: int) -> str:
    year, month = REFERENCE_DAY.year, REFERENCE_DAY.month - months + 1
    while month <= 0:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}-15"


def _every_blocker(st: _State) -> tuple[dict[str, Any], dict[str, Any]]:
    """A line that shows every blocker at once, and a member of its family group (a primary
    blocks only while it has members): so the demo can show a whole list of remedies."""
    n = st.next_ref()
    province = st.provinces[0]
    owner = {
        "name": st.fake.name(),
        "id_type": "passport",  # not allowed online
        "id_number": f"E{st.rng.randrange(10**8):08d}",
    }
    rec = _own_family(st, _record(st, owner, province, "first"), f"F-{n}", "primary")
    starts = REFERENCE_DAY - dt.timedelta(days=100)
    rec.update(
        status="lost",
        real_name_verified=False,
        bank_collection_pending=True,
        balance={"cash_fen": 0, "gift_fen": 0},
        unpaid_bills=[
            {
                "period": _period_back(1),
                "amount_fen": rec["plan"]["monthly_fee_fen"],
                "due_on": _due_of(1),
            }
        ],
        bundle={"id": f"BB-{n}", "broadband_account": f"0{n:010d}", "role": "anchor"},
        pending_orders=[{"id": f"O-{n}", "kind": "number_port"}],
        contracts=[
            {
                "id": f"C-{n}",
                "kind": "handset",
                "starts_on": starts.isoformat(),
                "ends_on": (starts + dt.timedelta(days=730)).isoformat(),
                "handset_list_price_fen": 599900,
                "handset_promo_price_fen": 299900,
                "gift_prestore_remaining_fen": 60000,
            },
            {
                "id": f"P-{n}",
                "kind": "premium_number",
                "starts_on": starts.isoformat(),
                "ends_on": None,
                "monthly_minimum_fen": 18800,
            },
        ],
    )
    member = _record(st, _owner(st, province), province, "other")
    for key in ("bundle", "contracts", "unpaid_bills", "pending_orders"):
        member.pop(key, None)
    return rec, _own_family(st, member, f"F-{n}", "member")


def _own_family(st: _State, rec: dict[str, Any], group: str, role: str) -> dict[str, Any]:
    """Put `rec` in `group`; a group it opened on its own is closed, so none is left empty."""
    if rec.get("family", {}).get("role") == "primary":
        ref = rec["family"]["group_id"]
        st.families = {p: [f for f in fs if f.ref != ref] for p, fs in st.families.items()}
    rec["family"] = {"group_id": group, "role": role}
    return rec


def faker_class() -> type[Faker]:
    """Faker, imported only here; FakerMissing (with how to install it) when it is absent."""
    try:
        from faker import Faker
    except ImportError:
        raise FakerMissing(INSTALL_HINT) from None
    return Faker


def _faker(seed: int) -> Faker:
    fake = faker_class()("zh_CN")
    fake.seed_instance(seed)
    return fake


def records(lines: int, seed: int) -> Iterator[dict[str, Any]]:
    """The records, in order. The first 31 lines visit every province once; then, when there
    is room, come a line with every blocker at once and a member of its family group."""
    rng = random.Random(seed)
    fake = _faker(seed)
    table = prefix_table()
    st = _State(rng, fake, list(table), [len(v) for v in table.values()])
    made = 0
    while made < lines:
        if made == len(st.provinces) and lines - made >= 2:
            yield from _every_blocker(st)
            made += 2
            continue
        province = (
            st.provinces[made]
            if made < len(st.provinces)
            else rng.choices(st.provinces, weights=st.weights)[0]
        )
        owner = _owner(st, province)
        count = 1 if rng.random() < 0.92 else rng.choice((2, 2, 3))
        first: dict[str, Any] | None = None
        for i in range(min(count, lines - made)):
            rec = _record(st, owner, province, "first" if i == 0 else "other")
            if first is not None and "bundle" in first and i == 1 and rng.random() < 0.6:
                bundle = first["bundle"]
                rec["bundle"] = {"id": bundle["id"], "broadband_account": None, "role": "member"}
            first = first or rec
            made += 1
            yield rec


def write(fh: TextIO, *, lines: int, seed: int, show_progress: bool | None = None) -> int:
    """Write `lines` JSON Lines records to `fh`; the same seed writes the same bytes."""
    with progress("generating demo lines", lines, enabled=show_progress) as tick:
        for i, rec in enumerate(records(lines, seed), start=1):
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            if i % 1000 == 0:
                tick(1000)
        tick(lines % 1000)
    return lines
