"""The store directory and the store import, against the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.factories import add_store
from xiaohu.audit.models import AuditEvent
from xiaohu.intake.roster import STORES, import_items
from xiaohu.kit.errors import DomainError
from xiaohu.policy.schema import Override, Policy
from xiaohu.runtime import Context
from xiaohu.stores.models import Store
from xiaohu.stores.service import listing


def _gd(ctx: Context) -> None:
    """Guangdong: a partner and a standard hall in Guangzhou, a flagship in Shenzhen, and a
    flagship in Guangzhou; and one Beijing store."""
    add_store(
        ctx,
        code="44-GZ-0003",
        name="广州番禺合作营业厅",
        province_code="44",
        city="广州",
        kind="partner",
    )
    add_store(
        ctx,
        code="44-GZ-0002",
        name="广州北京路营业厅",
        province_code="44",
        city="广州",
        kind="own_standard",
    )
    add_store(
        ctx,
        code="44-SZ-0001",
        name="深圳华强北旗舰营业厅",
        province_code="44",
        city="深圳",
        kind="own_flagship",
    )
    add_store(
        ctx,
        code="44-GZ-0001",
        name="广州天河旗舰营业厅",
        province_code="44",
        city="广州",
        kind="own_flagship",
    )
    add_store(ctx)


def _codes(stores: list[dict[str, object]]) -> list[object]:
    return [s["code"] for s in stores]


def test_the_city_comes_first_then_flagships_then_codes(ctx: Context) -> None:
    _gd(ctx)
    stores, truncated = listing(ctx, province_code="44", city="广州")
    assert _codes(stores) == ["44-GZ-0001", "44-GZ-0002", "44-GZ-0003", "44-SZ-0001"]
    assert not truncated
    stores, _ = listing(ctx, province_code="44", city="深圳")
    assert _codes(stores) == ["44-SZ-0001", "44-GZ-0001", "44-GZ-0002", "44-GZ-0003"]


def test_can_cancel_follows_the_policy_of_each_province(ctx: Context) -> None:
    _gd(ctx)
    add_store(ctx, code="11-BJ-0009", name="北京望京合作营业厅", kind="partner")
    stores, _ = listing(ctx, can_cancel=True)
    assert "44-GZ-0003" not in _codes(stores) and "11-BJ-0009" not in _codes(stores)
    assert all(s["can_cancel"] for s in stores)
    # Beijing lets its partner halls cancel from a date on: only Beijing's partner changes.
    ctx.runtime.policy = Policy(
        overrides=[
            Override(
                province="11",
                effective_from=dt.date(2026, 1, 1),
                values={"store_kinds_allowed": ["own_flagship", "own_standard", "partner"]},
            )
        ]
    )
    stores, _ = listing(ctx, can_cancel=True)
    assert "11-BJ-0009" in _codes(stores) and "44-GZ-0003" not in _codes(stores)
    cannot, _ = listing(ctx, can_cancel=False)
    assert _codes(cannot) == ["44-GZ-0003"]
    assert cannot[0]["can_cancel"] is False


def test_the_list_is_capped_and_says_so(ctx: Context) -> None:
    _gd(ctx)
    stores, truncated = listing(ctx, province_code="44", limit=3)
    assert len(stores) == 3 and truncated
    stores, truncated = listing(ctx, province_code="44", limit=4)
    assert len(stores) == 4 and not truncated


TIANHE = {  # one valid record of the stores file
    "code": "44-GZ-0001",
    "name": "广州天河营业厅",
    "province_code": "44",
    "city": "广州",
    "kind": "own_standard",
}


def test_import_creates_then_updates_by_code_with_one_audit_event(ctx: Context) -> None:
    record = dict(TIANHE)
    first = import_items(ctx, STORES, [(1, record)], source="stores.jsonl")
    again = import_items(ctx, STORES, [(1, {**record, "kind": "own_flagship"})])
    assert (first.created, first.updated, again.created, again.updated) == (1, 0, 0, 1)
    store = ctx.session.get(Store, "44-GZ-0001")
    assert store is not None and store.kind == "own_flagship"
    events = ctx.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "stores.imported")
    ).all()
    assert len(events) == 2


def test_a_code_twice_in_one_file_is_an_error_and_nothing_is_written(ctx: Context) -> None:
    record = dict(TIANHE)
    with pytest.raises(DomainError) as caught:
        import_items(ctx, STORES, [(1, record), (2, record), (3, '{"code": ')])
    assert [(e["line"], e["field"]) for e in caught.value.errors or []] == [
        (2, "code"),
        (3, "(record)"),
    ]
    assert ctx.session.get(Store, "44-GZ-0001") is None


def test_a_nul_in_a_file_record_is_named_and_nothing_is_written(ctx: Context) -> None:
    """A file import reads raw JSON text: a NUL in any string is refused as the HTTP body's
    is (PostgreSQL cannot store it; SQLite would keep it and serve it back)."""
    good = '{"code": "44-GZ-0001", "name": "广州天河营业厅", "province_code": "44", '
    good += '"city": "广州", "kind": "own_standard"}'
    bad = good.replace("44-GZ-0001", "44-GZ-0002").replace("天河", "天\\u0000河")
    with pytest.raises(DomainError) as caught:
        import_items(ctx, STORES, [(1, good), (2, bad)])
    assert [(e["line"], e["field"]) for e in caught.value.errors or []] == [(2, "name")]
    assert "NUL" in (caught.value.errors or [{}])[0]["reason"]
    assert ctx.session.get(Store, "44-GZ-0001") is None
