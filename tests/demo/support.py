"""Cancelling a demo number the way a subscriber would: check, then cancel with the quote."""

from __future__ import annotations

import json
from pathlib import Path

from xiaohu.cancellation.schemas import CancellationRequest
from xiaohu.cancellation.service import cancel, check_json
from xiaohu.runtime import Context


def cancel_demo_number(ctx: Context, demo_file: Path, msisdn: str) -> None:
    """Cancel `msisdn` of the demo file (its owner's name and ID come from the file)."""
    with demo_file.open(encoding="utf-8") as fh:
        (record,) = [r for r in map(json.loads, fh) if r["msisdn"] == msisdn]
    answer = check_json(ctx, msisdn)
    assert answer["eligible"], answer["blockers"]
    owner = record["owner"]
    request = CancellationRequest(
        msisdn=msisdn,
        quote_id=answer["quote"]["quote_id"],
        real_name={"name": owner["name"], "id_number": owner["id_number"]},  # type: ignore[arg-type]
        acknowledged_warnings=[w["code"] for w in answer["warnings"]],
    )
    cancel(ctx, msisdn, request)
