"""The sandbox's lifecycle run takes a day as the contract writes it, nothing looser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PATH = "/api/v1/sandbox/runs/lifecycle"


@pytest.mark.parametrize("day", ["2026-11-24T00:00:00", 1893456000, "20261124", "2026-11-31"])
def test_a_day_in_any_other_shape_is_refused_naming_the_field(
    client: TestClient, day: object
) -> None:
    r = client.post(PATH, json={"date": day})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_FAILED"
    assert [e["field"] for e in r.json()["errors"]] == ["date"]
