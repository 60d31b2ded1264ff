"""Where a person can go: the stores that may cancel a line, nearest first.

"Nearest" without coordinates: the line's city first, then the rest of its province, flagships
before standard halls (they stay open longer and handle every case), then by code for a stable
order. Which kinds may cancel is the province's policy (`store_kinds_allowed`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from xiaohu.policy.schema import Values
from xiaohu.stores.models import Store, StoreKind


def can_cancel(kind: str, values: Values) -> bool:
    """May a store of this kind cancel a line of the province whose policy is `values`?"""
    return kind in values.store_kinds_allowed


def as_json(store: Store, values: Values) -> dict[str, Any]:
    return {
        "code": store.code,
        "name": store.name,
        "province_code": store.province_code,
        "city": store.city,
        "kind": store.kind,
        "can_cancel": can_cancel(store.kind, values),
    }


def search_href(province_code: str, city: str | None) -> str:
    """The `GET /stores` query that lists the stores able to cancel a line of this home."""
    city_part = f"&city={city}" if city else ""
    return f"/api/v1/stores?province_code={province_code}{city_part}&can_cancel=true"


def that_can_cancel(
    session: Session, values: Values, province_code: str, city: str | None, *, limit: int = 5
) -> list[dict[str, Any]]:
    """Up to `limit` stores of the province that may cancel its lines, nearest first."""
    kinds = list(values.store_kinds_allowed)
    if not kinds:
        return []
    same_city = case((Store.city == city, 0), else_=1) if city else case((Store.code != "", 0))
    flagship_first = case((Store.kind == StoreKind.OWN_FLAGSHIP, 0), else_=1)
    rows = session.scalars(
        select(Store)
        .where(Store.province_code == province_code, Store.kind.in_(kinds))
        .order_by(same_city, flagship_first, Store.code)
        .limit(limit)
    )
    return [as_json(s, values) for s in rows]
