"""Progress bars for long work, shown only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Tick(Protocol):
    def __call__(self, advance: int = 1) -> None: ...


def _noop(advance: int = 1) -> None:
    return None


@contextmanager
def progress(label: str, total: int | None, *, enabled: bool | None = None) -> Iterator[Tick]:
    """Yields a function that advances the bar; a no-op when stderr is not a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield _noop
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
    with bar:
        task = bar.add_task(label, total=total)

        def tick(advance: int = 1) -> None:
            bar.advance(task, advance)

        yield tick
