"""A province that asks to review cross-region cancellations (`review_cross_region`): a
Guangdong store's request for a Jiangsu line goes to Jiangsu's back office, which decides it.
The store channel of another province is driven through the service here (the counter's
cross-region entry is its own area); the trigger is `handling province != home province`."""

from __future__ import annotations

import datetime as dt

from tests.cancellation.support import assert_books_consistent
from tests.factories import add_store, line_record, load
from xiaohu.cancellation import service as cancellation
from xiaohu.cancellation.rules import AtCounter
from xiaohu.cancellation.schemas import CancellationRequest, RealNameIn, RefundRouteIn
from xiaohu.kit.errors import DomainError
from xiaohu.policy.schema import Override, Policy
from xiaohu.principals import StaffClaims
from xiaohu.runtime import Context
from xiaohu.workorders import decision, service
from xiaohu.workorders.rules import Trigger

LATER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def staff(login: str, role: str, province: str, store: str | None = None) -> StaffClaims:
    return StaffClaims(1, login, role, province, store, LATER)


def test_a_cross_region_cancellation_is_reviewed_by_the_home_province(ctx: Context) -> None:
    ctx.runtime.policy = Policy(
        overrides=[
            Override(
                province="32",
                effective_from=dt.date(2025, 1, 1),
                values={"review_cross_region": True},
            )
        ]
    )
    store = add_store(ctx, code="44-GZ-0001", province_code="44", city="广州")
    rec = line_record(province="32", balance={"cash_fen": 20000, "gift_fen": 0})
    [line] = load(ctx, rec)
    gz_clerk = staff("gz.li", "clerk", "44", store.code)
    counter = AtCounter(store.code, store.kind, ("own_flagship", "own_standard"), True)

    found = service.needs_review(ctx, line, "44", counter)
    assert found.triggers == (Trigger.CROSS_REGION,) and found.blockers == []
    assert service.needs_review(ctx, line, "32", counter).triggers == ()

    check = cancellation.check_json(ctx, rec["msisdn"], channel="store", counter=counter)
    request = CancellationRequest(
        msisdn=rec["msisdn"],
        quote_id=check["quote"]["quote_id"],
        real_name=RealNameIn(name=rec["owner"]["name"], id_number=rec["owner"]["id_number"]),
        refund_route=RefundRouteIn(kind="original"),
        acknowledged_warnings=[w["code"] for w in check["warnings"]],
    )
    c, order = service.open_review(
        ctx, gz_clerk, line, None, request, counter=counter, handling_province="44",
        found=found, evidence={"originals_seen": True},
    )  # fmt: skip
    assert c.status == "pending_review" and c.handling_province_code == "44"
    assert (order.kind, order.home_province) == ("cross_region", "32")
    assert order.handling_province == "44"

    js_office = staff("js.review", "backoffice", "32")
    gd_office = staff("gd.review", "backoffice", "44")
    assert [o["id"] for o in service.queue(ctx, js_office, "open")] == [order.id]
    assert service.queue(ctx, gd_office, "open") == []
    try:
        decision.decide(ctx, gd_office, order.id, "approve", "ok")
        raise AssertionError("the handling province decided a home province's order")
    except DomainError as err:
        assert err.code == "FORBIDDEN"

    out = decision.decide(ctx, js_office, order.id, "approve", "同意")
    assert out["cancellation"]["status"] == "cancelled"
    assert out["cancellation"]["id"] == c.id
    assert line.status == "cancelled"
    ctx.session.flush()
    assert_books_consistent(ctx.session)
