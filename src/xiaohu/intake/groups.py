"""Bundles and family groups of an import: created on first mention, the anchor of a bundle
and the primary of a family set by the record that says so. Functions of one `BatchWriter` batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, select, update

from xiaohu.lines.models import Bundle, BundleMember, FamilyGroup, FamilyMember

if TYPE_CHECKING:
    from xiaohu.intake.batch import BatchWriter

_bundles: Table = Bundle.__table__  # type: ignore[assignment]
_bundle_members: Table = BundleMember.__table__  # type: ignore[assignment]
_families: Table = FamilyGroup.__table__  # type: ignore[assignment]
_family_members: Table = FamilyMember.__table__  # type: ignore[assignment]


def write_groups(batch: BatchWriter) -> None:
    """Bundles and family groups: created on first mention, anchor set by the anchor."""
    bundles: dict[str, tuple[str, str | None, int | None]] = {}
    families: dict[str, str] = {}
    bundle_members, family_members = [], []
    for r, _, _ in batch.records:
        lid = batch.line_id[r.msisdn]
        if r.bundle:
            ref, account, role = r.bundle
            prov, acct, anchor = bundles.get(ref, (r.province_code, None, None))
            if role == "anchor":
                prov, acct, anchor = r.province_code, account, lid
            bundles[ref] = (prov, acct or account, anchor)
            bundle_members.append((lid, ref, r.province_code, role))
        if r.family:
            ref, role = r.family
            if role == "primary" or ref not in families:
                families[ref] = r.province_code
            family_members.append((lid, ref, r.province_code, role))
    imp = batch.imp
    if bundles:
        if imp.fresh:
            present = imp.bundles_seen & set(bundles)
        else:
            present = {
                ref
                for (ref,) in batch.read(
                    select(_bundles.c.id).where(batch.among(_bundles.c.id, list(bundles)))
                )
            }
        imp.bundles_seen.update(bundles)
        batch.insert(
            _bundles,
            ("id", "province_code", "broadband_account", "anchor_line_id", "status",
             "updated_at"),
            [
                (ref, p, a, anchor, "active", batch.now)
                for ref, (p, a, anchor) in bundles.items()
                if ref not in present
            ],
        )  # fmt: skip
        moved = [
            {"_id": ref, "p": p, "a": a, "anchor": anchor}
            for ref, (p, a, anchor) in bundles.items()
            if ref in present and anchor is not None
        ]
        if moved:
            batch.execute(
                update(_bundles)
                .where(_bundles.c.id == bindparam("_id"))
                .values(
                    province_code=bindparam("p"),
                    broadband_account=bindparam("a"),
                    anchor_line_id=bindparam("anchor"),
                    status="active",
                    updated_at=batch.now,
                ),
                moved,
            )
            # The previous anchor of a re-anchored bundle is a member now.
            batch.execute(
                update(_bundle_members)
                .where(
                    batch.among(_bundle_members.c.bundle_id, [m["_id"] for m in moved]),
                    _bundle_members.c.role == "anchor",
                )
                .values(role="member")
            )
        batch.insert(
            _bundle_members, ("line_id", "bundle_id", "province_code", "role"), bundle_members
        )
    if families:
        if imp.fresh:
            present = imp.families_seen & set(families)
        else:
            present = {
                ref
                for (ref,) in batch.read(
                    select(_families.c.id).where(batch.among(_families.c.id, list(families)))
                )
            }
        imp.families_seen.update(families)
        batch.insert(
            _families,
            ("id", "province_code", "status"),
            [(ref, p, "active") for ref, p in families.items() if ref not in present],
        )
        primaries = {ref for _, ref, _, role in family_members if role == "primary"}
        if primaries & present:
            batch.execute(
                update(_family_members)
                .where(
                    batch.among(_family_members.c.group_id, list(primaries & present)),
                    _family_members.c.role == "primary",
                )
                .values(role="member")
            )
        batch.insert(
            _family_members, ("line_id", "group_id", "province_code", "role"), family_members
        )
