"""A log capture the way `xiaohu serve` logs: the root logger through structlog, onto a buffer."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from xiaohu.operations.logs import configure_logging


class CapturedLog:
    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("logger") == "xiaohu.access"]


@pytest.fixture()
def captured_log() -> Iterator[CapturedLog]:
    """JSON lines, as in production; the process's logging is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    captured = CapturedLog()
    configure_logging("json", "info", captured.buffer)
    try:
        yield captured
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()
