"""`xiaohu run settle --period YYYY-MM`: the month's settlement from the command line, with a
progress bar on a terminal (the exact netting may take its whole time limit)."""

from __future__ import annotations

from typing import Any

from xiaohu.kit.db import transaction
from xiaohu.kit.progress import progress
from xiaohu.runtime import Context, Runtime
from xiaohu.settlement import service

ACTOR = "system:settle"
STAGES = ("dues", "netting", "posted")


def run_settle(runtime: Runtime, period: str, *, show_progress: bool | None) -> dict[str, Any]:
    """Settle `period` in one transaction (as the sandbox route does); safe to repeat."""
    with (
        progress(f"settle {period}", len(STAGES), enabled=show_progress) as tick,
        transaction(runtime.sessions) as session,
    ):
        ctx = Context(runtime, session, runtime.clock_for(session), ACTOR)
        result = service.settle(ctx, period, step=lambda _stage: tick())
    if runtime.nodes.national:
        # The provinces' clearings wait in the outbox as messages: hand them to the broker
        # now rather than at the next sweep of a served process (a failure is retried there).
        runtime.outbox_written()
    return result
