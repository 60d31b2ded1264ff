"""Sandbox import: POST lines as JSON Lines (or a JSON array) and try the service with them."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from xiaohu.http import UnitOfWork
from xiaohu.intake.importer import import_items
from xiaohu.intake.rules import RECORD
from xiaohu.kit.errors import DomainError, error_responses

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


class ImportOut(BaseModel):
    imported: int
    skipped: int = 0


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "JSON Lines, one import record a line (API.md 'Import format'), or a "
        "JSON array of records. Any content type.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


def split_body(raw: bytes) -> list[tuple[int, object]]:
    """(line number, raw JSON text or decoded record) pairs. An array's records are numbered
    from 1 in order; JSON Lines keep the line number of the text."""
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DomainError(
                "IMPORT_INVALID",
                "the body is not valid JSON; nothing was written",
                errors=[
                    {
                        "line": exc.lineno,
                        "field": RECORD,
                        "reason": f"not valid JSON: {exc.msg} (column {exc.colno})",
                    }
                ],
            ) from exc
        if isinstance(values, list):
            return list(enumerate(values, start=1))
    elif text.lstrip().startswith("{") and "\n" in text.strip():
        try:  # one pretty-printed record rather than JSON Lines
            single = json.loads(text)
        except json.JSONDecodeError:
            single = None
        if isinstance(single, dict):
            return [(1, single)]
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


async def body_items(request: Request) -> list[tuple[int, object]]:
    """Read the body here, so the route itself can be a plain (thread-pool) function."""
    return split_body(await request.body())


@router.post(
    "/lines",
    response_model=ImportOut,
    summary="Import lines (same rules as `xiaohu import`)",
    responses=error_responses("IMPORT_INVALID"),
    openapi_extra=_BODY_DOC,
)
def import_lines(
    ctx: UnitOfWork,
    skip_invalid: bool = Query(False, description="write the valid records, report the rest"),
    items: list[tuple[int, object]] = Depends(body_items),
) -> ImportOut:
    result = import_items(ctx, items, skip_invalid=skip_invalid, source="sandbox")
    return ImportOut(imported=result.imported, skipped=result.skipped)
