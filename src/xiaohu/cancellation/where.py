"""Where to go: a blocker only a store can clear names the stores that can.

An online (or hotline) refusal that says "visit a store" is not enough evidence of a way out:
the remedy lists up to five stores of the line's home that may cancel it, nearest first
(`stores.directory`), and the `GET /stores` query for the rest. The stores are read only when
such a blocker is there, so the check of a clean line costs no extra query.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from xiaohu.cancellation.rules import Blocker
from xiaohu.lines.models import Line
from xiaohu.policy.schema import Values
from xiaohu.stores import directory

STORE_VISIT = "visit_store"  # the remedy of ABNORMAL_STATE, NOT_REAL_NAME, CHANNEL_NOT_ALLOWED


def needs_store(blockers: list[Blocker]) -> bool:
    return any(b.remedy is not None and b.remedy.get("action") == STORE_VISIT for b in blockers)


def with_stores(
    session: Session,
    values: Values,
    blockers: list[Blocker],
    province_code: str,
    city: str | None,
) -> list[Blocker]:
    """The blockers, each store-visit remedy with `stores` and `stores_href` added."""
    if not needs_store(blockers):
        return blockers
    stores = directory.that_can_cancel(session, values, province_code, city)
    href = directory.search_href(province_code, city)
    return [
        dataclasses.replace(b, remedy={**b.remedy, "stores": stores, "stores_href": href})
        if b.remedy is not None and b.remedy.get("action") == STORE_VISIT
        else b
        for b in blockers
    ]


_CITY = select(Line.city).where(Line.id == bindparam("line_id"))  # built once


def line_city(session: Session, line_id: int) -> str | None:
    return session.scalar(_CITY, {"line_id": line_id})
