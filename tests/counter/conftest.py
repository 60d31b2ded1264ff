"""Fixtures of the store channel's tests: the API client checked after each test, and the
desk (stores and their staff) committed for the app to see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import Api, checked_api
from tests.counter.support import Desk, open_desk
from xiaohu.runtime import Context, Runtime


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


@pytest.fixture()
def desk(ctx: Context) -> Desk:
    return open_desk(ctx)
