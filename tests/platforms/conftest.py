"""Fixtures of the platforms' tests: the API client, its books checked after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import Api, checked_api
from xiaohu.runtime import Runtime


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)
