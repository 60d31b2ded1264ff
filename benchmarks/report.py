"""Writing a benchmark's section into docs/benchmarks.md, shared by the benchmark scripts."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(doc: Path, name: str, section: str) -> None:
    """Put `section` (which starts with `<!-- name:start -->` and ends with
    `<!-- name:end -->`) in place of the previous run's, or append it."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->\n?", re.S)
    updated = (
        pattern.sub(lambda _m: section, current)
        if pattern.search(current)
        else current.rstrip() + "\n\n" + section
    )
    doc.write_text(updated, encoding="utf-8")
