"""Fixtures for the served-process layer: one `xiaohu serve` per module, on the suite's engine.

Each module gets a server on a database of its own (tests within a module share it, so every
test makes its own lines with the factories). `sandbox_server` is the sandbox mode the
outside test suites drive; production-mode servers are started by the tests that need them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.served.flows import NOW
from tests.served.harness import Served, serve


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[Served]:
    with serve("sandbox") as server:
        yield server


@pytest.fixture()
def server(sandbox_server: Served) -> Served:
    """The module's sandbox server with the test clock at the suite's usual 'now'."""
    r = sandbox_server.put("/api/v1/sandbox/clock", {"now": NOW})
    assert r.status_code == 200, r.text
    return sandbox_server
