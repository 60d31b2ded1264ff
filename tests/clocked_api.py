"""The `api` fixture of the staff and stores tests: the app run at the factories' time (the
sandbox clock is set to it), so the tokens minted with the test's clock are live for the app
too. A conftest takes it with `from tests.clocked_api import api`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from xiaohu.kit.clock import FrozenClock


@pytest.fixture()
def api(client: TestClient, clock: FrozenClock) -> TestClient:
    r = client.put("/api/v1/sandbox/clock", json={"now": clock.now().isoformat()})
    assert r.status_code == 200, r.text
    return client
