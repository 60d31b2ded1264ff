"""Structured logs: every log line of the process, the standard library's (ours, uvicorn's,
SQLAlchemy's) and structlog's, rendered by one structlog chain as JSON lines or console lines,
with the request id of the request it belongs to and phone and ID numbers masked.

Configured by `xiaohu serve` only (a process-wide setting), never at import: tests and the
other commands keep the standard library's defaults.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any, Literal

import structlog
from structlog.typing import Processor

from xiaohu.operations.rules import mask_value

ACCESS_LOGGER = "xiaohu.access"


def mask_pii(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """The last line of defence: whatever a message, a field or a traceback carries, no full
    phone or ID number is written. Runs on log events only, never on request bodies."""
    return {key: mask_value(value) for key, value in event.items()}


def _drop_color_message(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """uvicorn passes its message again with terminal colours, as an `extra`."""
    event.pop("color_message", None)
    return event


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,  # request_id, bound per request
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(
    renderer: Literal["json", "console"], level: str = "info", stream: IO[str] | None = None
) -> logging.Handler:
    """Route the root logger (and so every library's) through structlog onto `stream` (stderr);
    returns the handler, which replaces any the root logger had."""
    stream = stream or sys.stderr
    render: Processor
    if renderer == "json":
        render = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        colors = bool(getattr(stream, "isatty", lambda: False)())
        render = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from the standard library: their `extra` fields (the access log's) become
        # fields of the line.
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback becomes text before the masking, so a number in an exception's
            # message is masked too (and the console renderer never shows local variables).
            structlog.processors.format_exc_info,
            mask_pii,
            render,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler
