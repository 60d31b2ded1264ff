"""一证通查 in process: every line under the owner's ID across provinces, masked; a wrong name
or number is REAL_NAME_MISMATCH, counted as the cancellation's real-name step counts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.cancellation.support import Api, checked_api
from tests.factories import line_record, owner
from xiaohu.runtime import Runtime

PATH = "/api/v1/id-lookup"
PLAN_30 = {"code": "4G-30", "name": "4G 30元", "monthly_fee_fen": 3000}


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


def test_every_line_under_the_id_in_every_province_masked(api: Api, client: TestClient) -> None:
    me = owner()
    money = {"plan": PLAN_30, "balance": {"cash_fen": 20000, "gift_fen": 0}}
    bj = line_record(province="11", owner=me, **money)
    gd = line_record(province="44", owner=me, opened_on="2021-03-02", **money)
    gone = line_record(province="31", owner=me, **money)
    stranger = line_record(province="11")
    api.import_lines(bj, gd, gone, stranger)
    api.sign_in(gone["msisdn"])
    r = api.cancel(gone, api.check(gone["msisdn"]))
    assert r.status_code == 201, r.text
    auth = api.sign_in(bj["msisdn"])
    r = client.post(PATH, json={"name": me["name"], "id_number": me["id_number"]}, headers=auth)
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert lines == [
        {"msisdn_masked": bj["msisdn"][:3] + "****" + bj["msisdn"][-4:], "home_province": "11",
         "status": "active", "opened_on": "2019-05-01"},
        {"msisdn_masked": gd["msisdn"][:3] + "****" + gd["msisdn"][-4:], "home_province": "44",
         "status": "active", "opened_on": "2021-03-02"},
    ]  # fmt: skip
    assert bj["msisdn"] not in r.text and me["id_number"] not in r.text


def test_a_wrong_name_or_number_is_refused_and_counted(api: Api, client: TestClient) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    auth = api.sign_in(rec["msisdn"])
    me = rec["owner"]
    other = owner()
    for body in (
        {"name": me["name"] + "某", "id_number": me["id_number"]},
        {"name": me["name"], "id_number": other["id_number"]},
    ):
        r = client.post(PATH, json=body, headers=auth)
        assert r.status_code == 403 and r.json()["code"] == "REAL_NAME_MISMATCH", r.text
        assert "lines" not in r.json()
    assert r.json()["attempts_left"] == 3
    r = client.post(PATH, json={"name": me["name"], "id_number": "110101"}, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id_number"
    r = client.post(PATH, json={"name": me["name"], "id_number": me["id_number"]})
    assert r.status_code == 401
