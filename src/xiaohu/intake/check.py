"""The checking stage of an import: raw lines in, validated and sealed records out.

Validation itself is pure (`intake.rules`); here a record is decoded from its JSON line, checked
and sealed (what the database stores instead of clear text), a chunk at a time. For a big file
the chunks are checked in worker processes, a few ahead of the writer, in file order.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import NamedTuple

from xiaohu.identity.passwords import hash_for_import
from xiaohu.identity.rules import mask_id
from xiaohu.intake.rules import FieldError, LineRecord, validate_record
from xiaohu.kit.crypto import PiiCipher
from xiaohu.kit.guard import NUL_REASON, nul_fields
from xiaohu.runtime import Runtime


class Sealed(NamedTuple):
    """What the database stores instead of clear text: blind index, cipher, mask, hash."""

    id_index: str
    id_cipher: bytes
    id_masked: str
    password_hash: str | None


Checked = tuple[LineRecord | None, list[FieldError], Sealed | None]


def seal(record: LineRecord, cipher: PiiCipher, key: bytes) -> Sealed:
    return Sealed(
        id_index=cipher.blind_index(record.id_type, record.id_number),
        id_cipher=cipher.encrypt(record.id_number, context=f"{record.id_type}:owner"),
        id_masked=mask_id(record.id_number),
        password_hash=(
            hash_for_import(key, record.msisdn, record.service_password)
            if record.service_password
            else None
        ),
    )


NESTED_TOO_DEEPLY = "not valid JSON: nested too deeply"


def parse_json_line(raw: str | bytes, line: int) -> tuple[object, FieldError | None]:
    """One record decoded, or the problem with it. A NUL in any string is refused here, for
    the file imports as for the HTTP ones (PostgreSQL text cannot hold it; SQLite would keep
    it and hand it back)."""
    try:
        value = json.loads(raw)
    except RecursionError:  # the depth is the sender's: a 500 otherwise
        return None, FieldError(line, "(record)", NESTED_TOO_DEEPLY)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} (column {exc.colno})"
        else:
            detail = f"not UTF-8 text (byte {exc.start})"
        return None, FieldError(line, "(record)", f"not valid JSON: {detail}")
    escaped = "\\u0000" in raw if isinstance(raw, str) else b"\\u0000" in raw
    nul = nul_fields(value) if escaped else []  # only a record with the escape is walked
    if nul:
        return None, FieldError(line, nul[0] if nul[0] != "body" else "(record)", NUL_REASON)
    return value, None


def check_chunk(
    chunk: Sequence[tuple[int, object]], cipher: PiiCipher, key: bytes
) -> list[Checked]:
    """Validate and seal decoded records. Raw JSON text (str/bytes) is decoded first."""
    return [check_one(line, value, cipher, key) for line, value in chunk]


def check_one(line: int, value: object, cipher: PiiCipher, key: bytes) -> Checked:
    if isinstance(value, str | bytes):
        value, problem = parse_json_line(value, line)
        if problem is not None:
            return None, [problem], None
    record, errors = validate_record(value, line)
    return record, errors, seal(record, cipher, key) if record else None


# -------------------------------------------------------------------- worker processes

_worker: tuple[PiiCipher, bytes] | None = None


def init_worker(key: bytes) -> None:
    global _worker  # one cipher per worker process
    _worker = (PiiCipher(key), key)
    gc.freeze()  # what the worker inherited is never garbage; do not rescan it
    gc.disable()  # collected once a chunk instead (see below)


def check_in_worker(chunk: list[tuple[int, bytes]]) -> list[Checked]:
    if _worker is None:
        raise RuntimeError("check_in_worker runs in a pool started with init_worker")
    checked = check_chunk(chunk, *_worker)
    gc.collect()  # only an invalid record's traceback can leave a cycle behind
    return checked


# -------------------------------------------------------------------- reading the file


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their numbers, as bytes: invalid UTF-8 is reported, not patched."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if raw.strip():
                yield n, raw


def chunked(items: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))


def checked_batches(
    path: Path, pool: Executor | None, runtime: Runtime, batch: int
) -> Iterator[list[Checked]]:
    """Checked batches in file order; with a pool, a few batches are checked ahead."""
    chunks = chunked(numbered_lines(path), batch)
    if pool is None:
        cipher, key = runtime.cipher, runtime.settings.key
        for chunk in chunks:
            yield check_chunk(chunk, cipher, key)
        return
    ahead = 4
    pending = []
    for chunk in chunks:
        pending.append(pool.submit(check_in_worker, chunk))
        if len(pending) >= ahead:
            yield pending.pop(0).result()
    for fut in pending:
        yield fut.result()
