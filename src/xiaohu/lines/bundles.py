"""Releasing what hangs off a line, so it can be cancelled: the BROADBAND_BOUND,
FAMILY_PRIMARY and PENDING_ORDER remedies.

- A converged bundle's broadband is anchored on one mobile line: move the anchor to another
  active line of the same owner (in the same home province: a broadband account is local), or
  cancel the broadband with it (a provisioning order to the network).
- A family group's primary pays for the group: hand the primary role to a member line of the
  same owner (the primary leaves the group), or remove every member (the group is dissolved).
- A pending order in flight can be cancelled by the subscriber.

Every change locks the lines it touches (in msisdn order, so two requests cannot deadlock),
is audited, and tells the subscriber by SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, select

from xiaohu.audit.service import line_event
from xiaohu.kit.errors import DomainError
from xiaohu.lines.models import (
    Bundle,
    BundleMember,
    FamilyGroup,
    FamilyMember,
    Line,
    PendingOrder,
)
from xiaohu.lines.service import lock_line
from xiaohu.notifications.service import enqueue, send_sms
from xiaohu.runtime import Context

BundleAction = Literal["move_anchor", "cancel_broadband"]
FamilyAction = Literal["remove_members", "rehome"]


@dataclass(frozen=True)
class Released:
    """What a remedy did; `as_dict` is the API answer."""

    fields: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.fields)


def _lock_pair(ctx: Context, msisdn: str, other: str | None) -> tuple[Line, Line | None]:
    """Lock the acting line and the target line in a stable order."""
    if other is None or other == msisdn:
        return lock_line(ctx.session, msisdn), None
    locked = {m: _lock_or_none(ctx, m) for m in sorted((msisdn, other))}
    line = locked[msisdn]
    if line is None:
        raise DomainError("LINE_NOT_FOUND", f"no line {msisdn}")
    return line, locked[other]


def _lock_or_none(ctx: Context, msisdn: str) -> Line | None:
    try:
        return lock_line(ctx.session, msisdn)
    except DomainError:
        return None


def _usable(line: Line) -> None:
    if line.status == "cancelled":
        raise DomainError("ALREADY_CANCELLED", f"line {line.msisdn} is cancelled")


def _target(line: Line, target: Line | None, to_msisdn: str | None, what: str) -> Line:
    """The target must exist, differ from the line, belong to the same owner and be active."""
    if not to_msisdn:
        raise DomainError(
            "VALIDATION_FAILED",
            f"to_msisdn is required to {what}",
            errors=[{"field": "to_msisdn", "reason": "required for this action"}],
        )
    reason = None
    if to_msisdn == line.msisdn:
        reason = "it is this line"
    elif target is None:
        reason = "no such line"
    elif target.owner_id != line.owner_id:
        reason = "it belongs to another owner"
    elif target.status != "active":
        reason = f"it is {target.status}"
    if reason or target is None:
        raise DomainError(
            "TARGET_LINE_INVALID", f"cannot {what} to {to_msisdn}: {reason}", to_msisdn=to_msisdn
        )
    return target


def _record(ctx: Context, line: Line, action: str, data: dict[str, Any], sms: str) -> None:
    now = ctx.now()
    line.updated_at = now
    line_event(ctx, action, line.msisdn, line.province_code, data, at=now)
    send_sms(ctx.session, line.msisdn, sms, action, at=now, province_code=line.province_code)
    ctx.session.flush()


# --- converged bundle -------------------------------------------------------------------


def anchored_bundle(ctx: Context, line: Line) -> Bundle | None:
    return ctx.session.scalars(
        select(Bundle)
        .where(Bundle.anchor_line_id == line.id, Bundle.status == "active")
        .order_by(Bundle.id)
        .limit(1)
    ).one_or_none()


def release_bundle(
    ctx: Context, msisdn: str, action: BundleAction, to_msisdn: str | None = None
) -> Released:
    line, target = _lock_pair(ctx, msisdn, to_msisdn if action == "move_anchor" else None)
    _usable(line)
    bundle = anchored_bundle(ctx, line)
    if bundle is None:
        raise DomainError("NO_BUNDLE", f"line {msisdn} anchors no active broadband bundle")
    if action == "move_anchor":
        return _move_anchor(ctx, line, bundle, _target(line, target, to_msisdn, "move the anchor"))
    return _cancel_broadband(ctx, line, bundle)


def _move_anchor(ctx: Context, line: Line, bundle: Bundle, target: Line) -> Released:
    if target.province_code != bundle.province_code:
        raise DomainError(
            "TARGET_LINE_INVALID",
            f"cannot move the anchor to {target.msisdn}: the broadband account is in province "
            f"{bundle.province_code}, the line in {target.province_code}",
            to_msisdn=target.msisdn,
        )
    membership = ctx.session.get(BundleMember, target.id)
    if membership is not None and membership.bundle_id != bundle.id:
        raise DomainError(
            "TARGET_LINE_INVALID",
            f"cannot move the anchor to {target.msisdn}: it belongs to another bundle",
            to_msisdn=target.msisdn,
        )
    ctx.session.execute(delete(BundleMember).where(BundleMember.line_id == line.id))
    if membership is None:
        ctx.session.add(
            BundleMember(
                line_id=target.id,
                bundle_id=bundle.id,
                province_code=bundle.province_code,
                role="anchor",
            )
        )
    else:
        membership.role = "anchor"
    bundle.anchor_line_id = target.id
    bundle.updated_at = ctx.now()
    target.updated_at = ctx.now()
    _record(
        ctx,
        line,
        "bundle.anchor_moved",
        {"bundle_id": bundle.id, "from": line.msisdn, "to": target.msisdn},
        f"【销户助手】宽带融合业务{bundle.id}已转至号码{target.msisdn}，本号码已解除绑定。",
    )
    return Released(
        {"bundle_id": bundle.id, "action": "move_anchor", "anchor_msisdn": target.msisdn}
    )


def _cancel_broadband(ctx: Context, line: Line, bundle: Bundle) -> Released:
    now = ctx.now()
    bundle.status = "cancelled"
    bundle.anchor_line_id = None
    bundle.updated_at = now
    members = ctx.session.scalars(
        select(BundleMember).where(BundleMember.bundle_id == bundle.id)
    ).all()
    for member in members:
        ctx.session.delete(member)
    enqueue(
        ctx.session,
        "network.provisioning",
        {
            "msisdn": line.msisdn,
            "action": "broadband_cancel",
            "broadband_account": bundle.broadband_account,
            "bundle_id": bundle.id,
        },
        at=now,
        province_code=bundle.province_code,
    )
    _record(
        ctx,
        line,
        "bundle.broadband_cancelled",
        {"bundle_id": bundle.id, "members_removed": len(members)},
        f"【销户助手】宽带融合业务{bundle.id}已申请拆机，装维人员将预约上门回收设备。",
    )
    return Released({"bundle_id": bundle.id, "action": "cancel_broadband"})


# --- family group -----------------------------------------------------------------------


def primary_group(ctx: Context, line: Line) -> FamilyGroup | None:
    row = ctx.session.get(FamilyMember, line.id)
    if row is None or row.role != "primary":
        return None
    group = ctx.session.get(FamilyGroup, row.group_id)
    return group if group is not None and group.status == "active" else None


def release_family(
    ctx: Context, msisdn: str, action: FamilyAction, to_msisdn: str | None = None
) -> Released:
    line, target = _lock_pair(ctx, msisdn, to_msisdn if action == "rehome" else None)
    _usable(line)
    group = primary_group(ctx, line)
    if group is None:
        raise DomainError("NO_FAMILY_GROUP", f"line {msisdn} is not the primary of a family group")
    if action == "rehome":
        new_primary = _target(line, target, to_msisdn, "hand the primary role")
        return _rehome(ctx, line, group, new_primary)
    return _remove_members(ctx, line, group)


def _rehome(ctx: Context, line: Line, group: FamilyGroup, target: Line) -> Released:
    row = ctx.session.get(FamilyMember, target.id)
    if row is None or row.group_id != group.id:
        raise DomainError(
            "TARGET_LINE_INVALID",
            f"cannot hand the primary role to {target.msisdn}: it is not a member of {group.id}",
            to_msisdn=target.msisdn,
        )
    ctx.session.execute(delete(FamilyMember).where(FamilyMember.line_id == line.id))
    row.role = "primary"
    target.updated_at = ctx.now()
    _record(
        ctx,
        line,
        "family.rehomed",
        {"group_id": group.id, "from": line.msisdn, "to": target.msisdn},
        f"【销户助手】亲情网{group.id}的主卡已变更为{target.msisdn}，本号码已退出该群组。",
    )
    return Released({"group_id": group.id, "action": "rehome", "primary_msisdn": target.msisdn})


def _remove_members(ctx: Context, line: Line, group: FamilyGroup) -> Released:
    members = ctx.session.scalars(
        select(Line.msisdn)
        .join(FamilyMember, FamilyMember.line_id == Line.id)
        .where(FamilyMember.group_id == group.id, FamilyMember.role != "primary")
        .order_by(Line.msisdn)
    ).all()
    ctx.session.execute(delete(FamilyMember).where(FamilyMember.group_id == group.id))
    group.status = "dissolved"
    now = ctx.now()
    for m in members:
        send_sms(
            ctx.session,
            m,
            f"【销户助手】您所在的亲情网{group.id}已由主卡解散，相关共享优惠随之结束。",
            "family.member_removed",
            at=now,
            province_code=line.province_code,
        )
    _record(
        ctx,
        line,
        "family.members_removed",
        {"group_id": group.id, "members_removed": len(members)},
        f"【销户助手】亲情网{group.id}已解散，共移除{len(members)}个成员号码。",
    )
    return Released(
        {"group_id": group.id, "action": "remove_members", "members_removed": len(members)}
    )


# --- pending orders ---------------------------------------------------------------------


def cancel_order(ctx: Context, msisdn: str, order_ref: str) -> Released:
    line = lock_line(ctx.session, msisdn)
    _usable(line)
    order = ctx.session.scalars(
        select(PendingOrder).where(
            PendingOrder.line_id == line.id, PendingOrder.order_ref == order_ref
        )
    ).one_or_none()
    if order is None:
        raise DomainError("ORDER_NOT_FOUND", f"line {msisdn} has no order {order_ref}")
    if order.status != "open":
        raise DomainError("ORDER_NOT_OPEN", f"order {order_ref} is already {order.status}")
    order.status = "cancelled"
    _record(
        ctx,
        line,
        "order.cancelled",
        {"order_id": order_ref, "kind": order.kind},
        f"【销户助手】您的在途订单{order_ref}已取消。",
    )
    return Released({"order_id": order_ref, "kind": order.kind, "status": "cancelled"})
