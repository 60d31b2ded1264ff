"""一证通查: every line registered to the signed-in line's owner's ID, in every province.

The subscriber proves they are the owner the way the cancellation's real-name step does
(`identity.service.confirm_real_name`: exact name and full ID number, compared through the
keyed blind index; mismatches counted per line, `real_name_max_mismatches` in
`real_name_window_minutes`, then REAL_NAME_LOCKED), so the lookup cannot be used to test
guessed names and numbers. The owner's lines are then found by the same blind index (one
owner row per document nationwide: lines of every province hang on it); cancelled lines are
left out; numbers are masked (`138****0001`) and nothing else about the person is shown.

A national deployment (README, "Across nodes"): the request runs on the node of the signed-in
line's province, where the real-name check happens; the owner's lines may be on any node (each
node has its own owner row for the document, with the same blind index), so the query is asked
of every node at once and the answers merged (`kit.scatter`). A node that does not answer makes
the lookup `503 NODE_UNAVAILABLE`: a list missing a province's lines would look complete.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xiaohu.audit.service import line_event
from xiaohu.identity.rules import mask_msisdn
from xiaohu.identity.service import confirm_real_name
from xiaohu.kit.errors import InvariantViolated
from xiaohu.kit.scatter import every_node
from xiaohu.lines.models import Line, LineStatus, Owner
from xiaohu.lines.service import lock_line
from xiaohu.overview.lookup_schemas import IdLookupIn, IdLookupOut, LookupLine
from xiaohu.principals import TokenClaims
from xiaohu.runtime import Context


def id_lookup(ctx: Context, claims: TokenClaims, body: IdLookupIn) -> IdLookupOut:
    """The owner's lines now, or REAL_NAME_MISMATCH (403, counted) / REAL_NAME_LOCKED."""
    line = lock_line(ctx.session, claims.msisdn)  # the mismatch count is kept per line
    confirm_real_name(ctx, line, body.name, body.id_number, field="id_number")
    owner = ctx.session.get(Owner, line.owner_id)
    if owner is None:  # a foreign key guarantees it (and confirm_real_name read it)
        raise InvariantViolated(f"line {line.id} has no owner {line.owner_id}")
    id_type, id_index = owner.id_type, owner.id_index
    if ctx.runtime.nodes.national:
        answers = every_node(
            ctx.runtime,
            lambda session: owner_lines(session, id_type, id_index),
            session=ctx.session,
        )
        # By number: a province being moved may, for a moment, have its rows on both nodes.
        merged = {r[0]: r for rs in answers.values() for r in rs}
        rows = sorted(merged.values(), key=lambda r: (r[1], r[0]))
    else:
        rows = owner_lines(ctx.session, id_type, id_index)
    found = [
        LookupLine(msisdn_masked=mask_msisdn(m), home_province=p, status=s, opened_on=opened)
        for m, p, s, opened in rows
    ]
    line_event(
        ctx,
        "owner.id_lookup",
        line.msisdn,
        line.province_code,
        {"lines": len(found), "provinces": sorted({f.home_province for f in found})},
    )
    return IdLookupOut(lines=found)


def owner_lines(session: Session, id_type: str, id_index: str) -> list[tuple[Any, ...]]:
    """(msisdn, province, status, opened_on) of the document's lines in `session`'s database
    that are not cancelled, by province and number."""
    return [
        tuple(row)
        for row in session.execute(
            select(Line.msisdn, Line.province_code, Line.status, Line.opened_on)
            .join(Owner, Owner.id == Line.owner_id)
            .where(
                Owner.id_type == id_type,
                Owner.id_index == id_index,
                Line.status != LineStatus.CANCELLED,
            )
            .order_by(Line.province_code, Line.msisdn)
        )
    ]
