"""The demo's stores and staff: in every province of the demo lines, added once, signing in
with the published sandbox passwords."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from xiaohu.demo.data import write
from xiaohu.demo.load import load
from xiaohu.demo.stores import CAPITALS, DEMO_STAFF_PASSWORDS, staff_records, store_records
from xiaohu.kit.db import transaction
from xiaohu.lines.models import Line
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Runtime
from xiaohu.staff.models import StaffMember
from xiaohu.staff.rules import validate_staff
from xiaohu.staff.service import sign_in
from xiaohu.stores.models import Store
from xiaohu.stores.rules import validate_store


def test_every_province_has_valid_distinct_stores_and_staff() -> None:
    assert set(CAPITALS) == set(PROVINCES)
    stores = store_records(PROVINCES)
    staff = staff_records(PROVINCES)
    assert all(validate_store(r, 1)[1] == [] for r in stores)
    assert all(validate_staff(r, 1)[1] == [] for r in staff)
    assert len({r["code"] for r in stores}) == len(stores) == 3 * 31
    assert len({r["login"] for r in staff}) == len(staff) == 5 * 31
    assert {r["kind"] for r in stores} == {"own_flagship", "own_standard", "partner"}
    partner = {r["code"] for r in stores if r["kind"] == "partner"}
    assert not any(r.get("store_code") in partner for r in staff)  # clerks at own stores


def test_demo_load_adds_the_roster_once_and_its_staff_sign_in(
    runtime: Runtime, tmp_path: Path
) -> None:
    demo = tmp_path / "demo.jsonl"
    with demo.open("w", encoding="utf-8") as fh:
        write(fh, lines=40, seed=5, show_progress=False)
    first = load(runtime, demo)
    assert first.roster is not None
    with transaction(runtime.sessions, readonly=True) as session:
        provinces = set(session.scalars(select(Line.province_code).distinct()))
        assert session.scalar(select(func.count()).select_from(Store)) == 3 * len(provinces)
    assert sorted(provinces) == first.roster.provinces
    assert (first.roster.stores, first.roster.staff) == (3 * len(provinces), 5 * len(provinces))
    again = load(runtime, demo)
    assert again.roster is not None and (again.roster.stores, again.roster.staff) == (0, 0)
    with transaction(runtime.sessions) as session:
        ctx = runtime.context(session)
        tag = CAPITALS[sorted(provinces)[0]][0].lower()
        clerk = sign_in(ctx, f"{tag}.clerk1", DEMO_STAFF_PASSWORDS["clerk"])
        assert clerk.role == "clerk" and clerk.store_code is not None
        assert clerk.store_code.endswith("-0001")
        admin = sign_in(ctx, f"{tag}.admin", DEMO_STAFF_PASSWORDS["admin"])
        assert admin.role == "admin" and admin.store_code is None
        hashes = session.scalars(select(StaffMember.password_hash)).all()
        assert all(h.startswith("$argon2id$") for h in hashes)
