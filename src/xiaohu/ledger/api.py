"""Ledger operations endpoints. A national deployment's trial balance is every node's
(README, "Across nodes")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.scatter import every_node
from xiaohu.ledger import service
from xiaohu.regions.rules import province_problem
from xiaohu.runtime import Context

# Production: the operator's admin token (`http.require_admin`); sandbox: open.
router = APIRouter(
    prefix="/api/v1/admin/ledger",
    tags=["operations"],
    dependencies=[Depends(require_admin)],
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN"),
)


@router.get(
    "/trial-balance",
    summary="Trial balance: debits equal credits across the ledger, or in one province's books",
    description=(
        "National by default. With `province_code`, that province's books only: its journal "
        "transactions, each of which touches its own accounts (what it owes other provinces "
        "and is owed by them are its `due_to:*` and `due_from:*` accounts). A national "
        "deployment adds `nodes`, each node's figures: the whole is `balanced` only if "
        "every node's books are; a node that does not answer: `503 NODE_UNAVAILABLE`. "
        "With `province_code`, the province's node answers alone."
    ),
    responses=error_responses("VALIDATION_FAILED", "NODE_UNAVAILABLE"),
)
def trial_balance(
    ctx: UnitOfWork,
    province_code: Annotated[
        str | None, Query(description="GB/T 2260 province code: that province's books")
    ] = None,
) -> dict[str, Any]:
    if province_code is not None:
        problem = province_problem(province_code)
        if problem is not None:
            raise DomainError(
                "VALIDATION_FAILED",
                problem,
                errors=[{"field": "province_code", "reason": problem}],
            )
    if province_code is None and ctx.runtime.nodes.national:
        return national_trial_balance(ctx)
    return service.trial_balance(ctx.session, province_code)


def national_trial_balance(ctx: Context) -> dict[str, Any]:
    """Every node's trial balance, merged account by account (an account code is a province's,
    so each is in one node's books; a national one may be in several, and is summed), with
    each node's own totals under `nodes`."""
    answers = every_node(ctx.runtime, lambda s: service.trial_balance(s), session=ctx.session)
    accounts: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for name, tb in answers.items():
        nodes[name] = {k: tb[k] for k in ("balanced", "debits_fen", "credits_fen")}
        for a in tb["accounts"]:  # type: ignore[attr-defined]
            into = accounts.setdefault(
                a["code"], {**a, "debits_fen": 0, "credits_fen": 0, "balance_fen": 0}
            )
            for key in ("debits_fen", "credits_fen", "balance_fen"):
                into[key] += a[key]
    debits = sum(n["debits_fen"] for n in nodes.values())
    credits = sum(n["credits_fen"] for n in nodes.values())
    return {
        "balanced": debits == credits and all(n["balanced"] for n in nodes.values()),
        "debits_fen": debits,
        "credits_fen": credits,
        "accounts": [accounts[code] for code in sorted(accounts)],
        "nodes": nodes,
    }
