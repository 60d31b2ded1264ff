"""Bundle, family and order remedies over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.contracts.helpers import assert_books, auth, pin_clock
from tests.factories import line_record, load, owner
from xiaohu.runtime import Context, Runtime

BUNDLE = {"id": "BB-9", "broadband_account": "01087654321", "role": "anchor"}


def test_move_anchor_then_no_bundle(ctx: Context, client: TestClient, runtime: Runtime) -> None:
    pin_clock(client)
    me = owner()
    anchor, mine, theirs = load(
        ctx,
        line_record(owner=me, bundle=BUNDLE),
        line_record(owner=me),
        line_record(owner=owner()),
    )
    url = f"/api/v1/lines/{anchor.msisdn}/bundle/release"
    r = client.post(
        url,
        json={"action": "move_anchor", "to_msisdn": theirs.msisdn},
        headers=auth(runtime, anchor),
    )
    assert r.status_code == 409 and r.json()["code"] == "TARGET_LINE_INVALID"
    r = client.post(
        url,
        json={"action": "move_anchor", "to_msisdn": mine.msisdn},
        headers={**auth(runtime, anchor), "Idempotency-Key": "m-1"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"bundle_id": "BB-9", "action": "move_anchor", "anchor_msisdn": mine.msisdn}
    again = client.post(
        url,
        json={"action": "move_anchor", "to_msisdn": mine.msisdn},
        headers={**auth(runtime, anchor), "Idempotency-Key": "m-1"},
    )
    assert again.status_code == 200 and again.json() == r.json()
    r = client.post(url, json={"action": "cancel_broadband"}, headers=auth(runtime, anchor))
    assert r.status_code == 409 and r.json()["code"] == "NO_BUNDLE"
    r = client.post(
        f"/api/v1/lines/{mine.msisdn}/bundle/release",
        json={"action": "cancel_broadband"},
        headers=auth(runtime, mine),
    )
    assert r.status_code == 200 and r.json() == {"bundle_id": "BB-9", "action": "cancel_broadband"}
    assert_books(ctx.session, anchor.msisdn, mine.msisdn)


def test_bundle_release_validation_and_auth(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    pin_clock(client)
    anchor, other = load(ctx, line_record(bundle=BUNDLE), line_record())
    url = f"/api/v1/lines/{anchor.msisdn}/bundle/release"
    r = client.post(url, json={"action": "explode"}, headers=auth(runtime, anchor))
    assert r.status_code == 422
    r = client.post(url, json={"action": "cancel_broadband"}, headers=auth(runtime, other))
    assert r.status_code == 403
    r = client.post(url, json={"action": "move_anchor"}, headers=auth(runtime, anchor))
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


def test_family_release_and_order_cancel(
    ctx: Context, client: TestClient, runtime: Runtime
) -> None:
    pin_clock(client)
    me = owner()
    primary, member = load(
        ctx,
        line_record(
            owner=me,
            family={"group_id": "F-9", "role": "primary"},
            pending_orders=[{"id": "O-7", "kind": "plan_change"}],
        ),
        line_record(owner=me, family={"group_id": "F-9", "role": "member"}),
    )
    headers = auth(runtime, primary)
    r = client.post(
        f"/api/v1/lines/{member.msisdn}/family/release",
        json={"action": "remove_members"},
        headers=auth(runtime, member),
    )
    assert r.status_code == 409 and r.json()["code"] == "NO_FAMILY_GROUP"
    r = client.post(
        f"/api/v1/lines/{primary.msisdn}/family/release",
        json={"action": "rehome", "to_msisdn": member.msisdn},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"group_id": "F-9", "action": "rehome", "primary_msisdn": member.msisdn}
    r = client.post(f"/api/v1/lines/{primary.msisdn}/orders/O-7/cancel", headers=headers)
    assert r.status_code == 200
    assert r.json() == {"order_id": "O-7", "kind": "plan_change", "status": "cancelled"}
    r = client.post(f"/api/v1/lines/{primary.msisdn}/orders/O-7/cancel", headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "ORDER_NOT_OPEN"
    r = client.post(f"/api/v1/lines/{primary.msisdn}/orders/O-8/cancel", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "ORDER_NOT_FOUND"
    r = client.post(
        f"/api/v1/lines/{primary.msisdn}/orders/O-7/cancel", headers=auth(runtime, member)
    )
    assert r.status_code == 403
