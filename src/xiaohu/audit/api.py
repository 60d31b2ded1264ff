"""Audit log operations endpoints. A national deployment's verification is every node's
(README, "Across nodes")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from xiaohu.audit import service
from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import error_responses
from xiaohu.kit.scatter import every_node
from xiaohu.runtime import Context

# Production: the operator's admin token (`http.require_admin`); sandbox: open.
router = APIRouter(
    prefix="/api/v1/admin/audit",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get(
    "/verify",
    summary="Recompute every hash chain of the audit log",
    description=(
        "A national deployment verifies every node's chains and adds `nodes`, each node's "
        "figures (a broken chain names its `node`): `intact` only if every node's chains are. "
        "A node that does not answer: `503 NODE_UNAVAILABLE`."
    ),
    responses=error_responses("NODE_UNAVAILABLE"),
)
def verify(ctx: UnitOfWork) -> dict[str, Any]:
    if ctx.runtime.nodes.national:
        return national_verify(ctx)
    return service.verify(ctx.session)


def national_verify(ctx: Context) -> dict[str, Any]:
    """Each node keeps its own chains (its provinces' and its own national one), so each is
    verified where it is and the answers are added up."""
    answers = every_node(ctx.runtime, lambda s: service.verify(s), session=ctx.session)
    nodes = {name: {k: v[k] for k in ("intact", "events", "chains")} for name, v in answers.items()}
    broken = [{**b, "node": name} for name, v in answers.items() for b in v["broken"]]
    return {
        "intact": all(n["intact"] for n in nodes.values()),
        "events": sum(n["events"] for n in nodes.values()),
        "chains": sum(n["chains"] for n in nodes.values()),
        "broken": broken,
        "nodes": nodes,
    }
