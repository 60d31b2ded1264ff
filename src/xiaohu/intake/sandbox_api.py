"""Sandbox import: POST lines as JSON Lines (or a JSON array) and try the service with them."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from xiaohu.http import UnitOfWork
from xiaohu.intake.check import NESTED_TOO_DEEPLY
from xiaohu.intake.importer import import_items
from xiaohu.intake.roster import STAFF, STORES, Roster
from xiaohu.intake.roster import import_on_every_node as import_roster
from xiaohu.intake.rules import RECORD
from xiaohu.kit.errors import DomainError, error_responses

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


class ImportOut(BaseModel):
    imported: int
    skipped: int = 0
    nodes: dict[str, str] | None = Field(
        None, description="with a node map: what each node did (`ok ...`, `unreachable...`)"
    )


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


_decoder = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def split_body(raw: bytes) -> Iterator[tuple[int, object]]:
    """(line number, raw JSON text or decoded record) pairs, one at a time, so a large body is
    never held as records all at once. An array's records are numbered from 1 in order;
    JSON Lines keep the line number of the text."""
    text = raw.decode("utf-8", errors="replace")
    head = text.lstrip()
    if head.startswith("["):
        return _array_values(text, text.index("[") + 1)
    if head.startswith("{") and "\n" in text.strip():
        try:  # one pretty-printed record rather than JSON Lines
            single = json.loads(text)
        except (ValueError, RecursionError):
            single = None
        if isinstance(single, dict):
            return iter([(1, single)])
    lines = enumerate(io.StringIO(text, newline=None), start=1)
    return ((n, line) for n, line in lines if line.strip())


def _array_values(text: str, at: int) -> Iterator[tuple[int, object]]:
    """The values of a JSON array, decoded one by one with the standard decoder."""
    at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
    number = 0
    closed = text.startswith("]", at)
    if closed:
        at += 1
    while not closed:
        number += 1
        try:
            value, at = _decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise _not_json(exc) from exc
        except RecursionError:  # the depth is the sender's: a 500 otherwise
            raise DomainError(
                "IMPORT_INVALID",
                f"record {number} is nested too deeply; nothing was written",
                errors=[{"line": number, "field": RECORD, "reason": NESTED_TOO_DEEPLY}],
            ) from None
        yield number, value
        at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
        if text.startswith("]", at):
            closed = True
        elif text.startswith(",", at):
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        else:
            raise _not_json(json.JSONDecodeError("Expecting ',' delimiter", text, at))
        at += closed
    if text[at:].strip():
        raise _not_json(json.JSONDecodeError("Extra data", text, at))


def _not_json(exc: json.JSONDecodeError) -> DomainError:
    return DomainError(
        "IMPORT_INVALID",
        "the body is not valid JSON; nothing was written",
        errors=[
            {
                "line": exc.lineno,
                "field": RECORD,
                "reason": f"not valid JSON: {exc.msg} (column {exc.colno})",
            }
        ],
    )


def _counted(items: Iterator[tuple[int, object]], seen: list[int]) -> Iterator[tuple[int, object]]:
    for item in items:
        seen[0] += 1
        yield item


async def body_items(request: Request) -> Iterator[tuple[int, object]]:
    """Read the body here, so the route itself can be a plain (thread-pool) function."""
    return split_body(await request.body())


@router.post(
    "/lines",
    response_model=ImportOut,
    response_model_exclude_none=True,
    summary="Import lines (same rules as `xiaohu import`)",
    responses=error_responses("IMPORT_INVALID"),
    openapi_extra=_BODY_DOC,
)
def import_lines(
    ctx: UnitOfWork,
    skip_invalid: bool = Query(False, description="write the valid records, report the rest"),
    items: Iterator[tuple[int, object]] = Depends(body_items),
) -> ImportOut:
    seen = [0]
    result = import_items(ctx, _counted(items, seen), skip_invalid=skip_invalid, source="sandbox")
    if not seen[0]:
        raise DomainError("IMPORT_INVALID", "the body holds no records; nothing was written")
    return ImportOut(imported=result.imported, skipped=result.skipped, nodes=result.nodes or None)


def _import_roster(
    ctx: UnitOfWork, roster: Roster, items: Iterator[tuple[int, object]], skip_invalid: bool
) -> ImportOut:
    seen = [0]
    result = import_roster(
        ctx, roster, _counted(items, seen), skip_invalid=skip_invalid, source="sandbox"
    )
    if not seen[0]:
        raise DomainError("IMPORT_INVALID", "the body holds no records; nothing was written")
    return ImportOut(imported=result.imported, skipped=result.skipped, nodes=result.nodes or None)


_STORES_DOC = {
    "requestBody": {
        **_BODY_DOC["requestBody"],
        "description": "JSON Lines, one store a line (`code`, `name`, `province_code`, `city`, "
        "`kind`), or a JSON array of them. Any content type.",
    }
}
_STAFF_DOC = {
    "requestBody": {
        **_BODY_DOC["requestBody"],
        "description": "JSON Lines, one member of staff a line (`login`, `name`, `role`, "
        "`province_code`, `store_code` for clerks, `password`), or a JSON array of them.",
    }
}


@router.post(
    "/stores",
    response_model=ImportOut,
    response_model_exclude_none=True,
    summary="Import stores (same rules as `xiaohu stores import`)",
    description="A code already loaded is updated. All or nothing unless `skip_invalid`.",
    responses=error_responses("IMPORT_INVALID"),
    openapi_extra=_STORES_DOC,
)
def import_stores(
    ctx: UnitOfWork,
    skip_invalid: bool = Query(False, description="write the valid records, report the rest"),
    items: Iterator[tuple[int, object]] = Depends(body_items),
) -> ImportOut:
    return _import_roster(ctx, STORES, items, skip_invalid)


@router.post(
    "/staff",
    response_model=ImportOut,
    response_model_exclude_none=True,
    summary="Import staff (same rules as `xiaohu staff import`)",
    description=(
        "A login already loaded is updated; a new password replaces the old one and lifts a "
        "lock-out. A clerk's `store_code` must name a store already loaded, in the clerk's "
        "province. All or nothing unless `skip_invalid`."
    ),
    responses=error_responses("IMPORT_INVALID"),
    openapi_extra=_STAFF_DOC,
)
def import_staff(
    ctx: UnitOfWork,
    skip_invalid: bool = Query(False, description="write the valid records, report the rest"),
    items: Iterator[tuple[int, object]] = Depends(body_items),
) -> ImportOut:
    return _import_roster(ctx, STAFF, items, skip_invalid)
