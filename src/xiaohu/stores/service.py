"""Stores: loading them (created or updated by code) and listing where a person can go."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, case, false, or_, select

from xiaohu.audit.service import import_event
from xiaohu.kit.import_records import FieldError
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Context
from xiaohu.stores.directory import as_json
from xiaohu.stores.models import Store, StoreKind
from xiaohu.stores.rules import StoreRecord

LIST_CAP = 200  # GET /stores answers at most this many, nearest first


def problems(ctx: Context, records: Sequence[StoreRecord]) -> list[FieldError]:
    """Nothing about a store depends on the database: its code carries its province."""
    return []


def provinces_of(ctx: Context, codes: Iterable[str]) -> dict[str, str]:
    """The province of each of these stores that is loaded."""
    rows = ctx.session.execute(
        select(Store.code, Store.province_code).where(Store.code.in_(set(codes)))
    )
    return {code: province for code, province in rows}


def write(ctx: Context, records: Sequence[StoreRecord], source: str) -> tuple[int, int]:
    """Create the new codes, update the known ones; one audit event. (created, updated)."""
    now = ctx.now()
    known = {
        s.code: s
        for s in ctx.session.scalars(select(Store).where(Store.code.in_([r.code for r in records])))
    }
    created = 0
    for r in records:
        store = known.get(r.code)
        if store is None:
            store = Store(code=r.code, created_at=now)
            ctx.session.add(store)
            created += 1
        store.name, store.province_code, store.city, store.kind = (
            r.name,
            r.province_code,
            r.city,
            r.kind,
        )
        store.updated_at = now
    ctx.session.flush()
    updated = len(records) - created
    if records:
        import_event(
            ctx, "stores.imported", source, {"created": created, "updated": updated}, at=now
        )
    return created, updated


def listing(
    ctx: Context,
    *,
    province_code: str | None = None,
    city: str | None = None,
    can_cancel: bool | None = None,
    limit: int = LIST_CAP,
) -> tuple[list[dict[str, Any]], bool]:
    """The stores, nearest first (as `directory.that_can_cancel`: the city's own stores, then
    the rest; flagships before standard halls; then by code), and whether the cap cut the list.

    `city` ranks, it does not exclude: a person in a city with no store of their own is shown
    the province's. `can_cancel` follows each store's own province's policy."""
    provinces = [province_code] if province_code else list(PROVINCES)
    values = {p: ctx.policy_for(p) for p in provinces}
    query = select(Store)
    if province_code:
        query = query.where(Store.province_code == province_code)
    if can_cancel is not None:
        # Provinces grouped by the kinds their policy lets cancel: one clause per group.
        groups: dict[tuple[str, ...], list[str]] = {}
        for p, v in values.items():
            groups.setdefault(tuple(sorted(v.store_kinds_allowed)), []).append(p)
        allowed = or_(
            false(),
            *(
                and_(Store.province_code.in_(ps), Store.kind.in_(kinds))
                for kinds, ps in groups.items()
                if kinds
            ),
        )
        query = query.where(allowed if can_cancel else ~allowed)
    same_city = case((Store.city == city, 0), else_=1) if city else None
    flagship_first = case((Store.kind == StoreKind.OWN_FLAGSHIP, 0), else_=1)
    order = [Store.province_code, flagship_first, Store.code]
    if same_city is not None:
        order.insert(0, same_city)
    rows = list(ctx.session.scalars(query.order_by(*order).limit(limit + 1)))
    return [as_json(s, values[s.province_code]) for s in rows[:limit]], len(rows) > limit
