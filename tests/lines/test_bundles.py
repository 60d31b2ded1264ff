"""Bundle, family and pending-order remedies (service level)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.contracts.helpers import assert_books, fresh
from tests.factories import line_record, load, owner
from xiaohu.kit.errors import DomainError
from xiaohu.lines import bundles
from xiaohu.lines.models import (
    Bundle,
    BundleMember,
    FamilyGroup,
    FamilyMember,
    Line,
    PendingOrder,
)
from xiaohu.notifications.models import OutboxMessage
from xiaohu.runtime import Context

BUNDLE = {"id": "BB-1", "broadband_account": "01012345678", "role": "anchor"}


def bundle_lines(ctx: Context) -> tuple[Line, Line, Line]:
    me = owner()
    return tuple(  # type: ignore[return-value]
        load(
            ctx,
            line_record(owner=me, bundle=BUNDLE),
            line_record(owner=me),
            line_record(owner=owner()),
        )
    )


def members(ctx: Context, bundle_id: str) -> dict[int, str]:
    rows = ctx.session.scalars(select(BundleMember).where(BundleMember.bundle_id == bundle_id))
    return {m.line_id: m.role for m in rows}


def test_move_anchor_to_a_line_of_the_same_owner(ctx: Context) -> None:
    anchor, mine, _ = bundle_lines(ctx)
    out = bundles.release_bundle(ctx, anchor.msisdn, "move_anchor", mine.msisdn)
    assert out.as_dict() == {
        "bundle_id": "BB-1",
        "action": "move_anchor",
        "anchor_msisdn": mine.msisdn,
    }
    ctx.session.expire_all()
    bundle = ctx.session.get(Bundle, "BB-1")
    assert bundle is not None and bundle.anchor_line_id == mine.id and bundle.status == "active"
    assert members(ctx, "BB-1") == {mine.id: "anchor"}
    assert bundles.anchored_bundle(ctx, fresh(ctx.session, anchor.msisdn)) is None
    assert_books(ctx.session, anchor.msisdn, mine.msisdn)


def test_move_anchor_to_another_owners_line_is_refused(ctx: Context) -> None:
    anchor, _, theirs = bundle_lines(ctx)
    with pytest.raises(DomainError) as err:
        bundles.release_bundle(ctx, anchor.msisdn, "move_anchor", theirs.msisdn)
    assert err.value.code == "TARGET_LINE_INVALID"
    assert "another owner" in err.value.detail


@pytest.mark.parametrize("case", ["itself", "missing", "suspended", "no_target"])
def test_move_anchor_needs_a_usable_target(ctx: Context, case: str) -> None:
    anchor, mine, _ = bundle_lines(ctx)
    target: str | None = {
        "itself": anchor.msisdn,
        "missing": "13999999999",
        "suspended": mine.msisdn,
        "no_target": None,
    }[case]
    if case == "suspended":
        fresh(ctx.session, mine.msisdn).status = "arrears_suspended"
        ctx.session.flush()
    with pytest.raises(DomainError) as err:
        bundles.release_bundle(ctx, anchor.msisdn, "move_anchor", target)
    expected = "VALIDATION_FAILED" if case == "no_target" else "TARGET_LINE_INVALID"
    assert err.value.code == expected


def test_cancel_broadband_orders_the_network(ctx: Context) -> None:
    anchor, _, _ = bundle_lines(ctx)
    out = bundles.release_bundle(ctx, anchor.msisdn, "cancel_broadband")
    assert out.as_dict() == {"bundle_id": "BB-1", "action": "cancel_broadband"}
    bundle = ctx.session.get(Bundle, "BB-1")
    assert bundle is not None and bundle.status == "cancelled"
    assert members(ctx, "BB-1") == {}
    orders = ctx.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "network.provisioning")
    ).all()
    assert [o.payload for o in orders] == [
        {
            "msisdn": anchor.msisdn,
            "action": "broadband_cancel",
            "broadband_account": "01012345678",
            "bundle_id": "BB-1",
        }
    ]


def test_no_bundle_is_409(ctx: Context) -> None:
    _, mine, _ = bundle_lines(ctx)
    with pytest.raises(DomainError) as err:
        bundles.release_bundle(ctx, mine.msisdn, "cancel_broadband")
    assert err.value.code == "NO_BUNDLE"


def family(ctx: Context) -> tuple[Line, Line, Line]:
    me = owner()
    return tuple(  # type: ignore[return-value]
        load(
            ctx,
            line_record(owner=me, family={"group_id": "F-1", "role": "primary"}),
            line_record(owner=me, family={"group_id": "F-1", "role": "member"}),
            line_record(owner=owner(), family={"group_id": "F-1", "role": "member"}),
        )
    )


def roles(ctx: Context) -> dict[int, str]:
    ctx.session.expire_all()
    rows = ctx.session.scalars(select(FamilyMember).where(FamilyMember.group_id == "F-1"))
    return {m.line_id: m.role for m in rows}


def test_remove_members_dissolves_the_group(ctx: Context) -> None:
    primary, _, _ = family(ctx)
    out = bundles.release_family(ctx, primary.msisdn, "remove_members")
    assert out.as_dict() == {"group_id": "F-1", "action": "remove_members", "members_removed": 2}
    assert roles(ctx) == {}
    group = ctx.session.get(FamilyGroup, "F-1")
    assert group is not None and group.status == "dissolved"
    assert bundles.primary_group(ctx, fresh(ctx.session, primary.msisdn)) is None


def test_rehome_hands_the_primary_role_to_a_same_owner_member(ctx: Context) -> None:
    primary, mine, theirs = family(ctx)
    out = bundles.release_family(ctx, primary.msisdn, "rehome", mine.msisdn)
    assert out.as_dict()["primary_msisdn"] == mine.msisdn
    assert roles(ctx) == {mine.id: "primary", theirs.id: "member"}


def test_rehome_to_another_owners_member_is_refused(ctx: Context) -> None:
    primary, _, theirs = family(ctx)
    with pytest.raises(DomainError) as err:
        bundles.release_family(ctx, primary.msisdn, "rehome", theirs.msisdn)
    assert err.value.code == "TARGET_LINE_INVALID"


def test_rehome_to_a_line_outside_the_group_is_refused(ctx: Context) -> None:
    primary, _, _ = family(ctx)
    (outsider,) = load(ctx, line_record())
    fresh(ctx.session, outsider.msisdn).owner_id = primary.owner_id  # same owner, not a member
    ctx.session.flush()
    with pytest.raises(DomainError) as err:
        bundles.release_family(ctx, primary.msisdn, "rehome", outsider.msisdn)
    assert err.value.code == "TARGET_LINE_INVALID"
    assert "not a member" in err.value.detail


def test_a_member_is_not_a_primary(ctx: Context) -> None:
    _, member, _ = family(ctx)
    with pytest.raises(DomainError) as err:
        bundles.release_family(ctx, member.msisdn, "remove_members")
    assert err.value.code == "NO_FAMILY_GROUP"


def test_cancel_a_pending_order(ctx: Context) -> None:
    (line,) = load(ctx, line_record(pending_orders=[{"id": "O-1", "kind": "plan_change"}]))
    out = bundles.cancel_order(ctx, line.msisdn, "O-1")
    assert out.as_dict() == {"order_id": "O-1", "kind": "plan_change", "status": "cancelled"}
    order = ctx.session.scalars(select(PendingOrder).where(PendingOrder.line_id == line.id)).one()
    assert order.status == "cancelled"
    with pytest.raises(DomainError) as err:
        bundles.cancel_order(ctx, line.msisdn, "O-1")
    assert err.value.code == "ORDER_NOT_OPEN"
    with pytest.raises(DomainError) as err:
        bundles.cancel_order(ctx, line.msisdn, "O-9")
    assert err.value.code == "ORDER_NOT_FOUND"
