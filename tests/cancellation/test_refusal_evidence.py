"""Refusal evidence: store-visit remedies that name the stores, the list of a line's refusals,
and its signed notice (拒绝销户告知书)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pypdf
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from tests.cancellation.support import T0, Api, checked_api, mint
from tests.factories import add_store, line_record
from tests.hotline.support import bearer, staff
from xiaohu.cancellation.models import Refusal
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.signing import derived_key
from xiaohu.lines.models import Line
from xiaohu.runtime import Context, Runtime

HOME = {"province_code": "11", "city": "北京"}
ENOUGH = {"cash_fen": 30000, "gift_fen": 0}  # pays the final bill: no ARREARS beside


@pytest.fixture()
def api(client: TestClient, runtime: Runtime) -> Iterator[Api]:
    yield from checked_api(client, runtime)


@pytest.fixture()
def stores(runtime: Runtime) -> None:
    """Beijing's stores: a partner (may not cancel), two own halls in the city, a flagship
    in a suburb; and one in another province."""
    with runtime.sessions() as s:
        ctx = Context(runtime, s, FrozenClock(T0), actor="test")
        add_store(ctx, code="11-BJ-0001", name="北京合作厅", city="北京", kind="partner")
        add_store(ctx, code="11-BJ-0002", name="北京西单营业厅", city="北京", kind="own_standard")
        add_store(ctx, code="11-YQ-0001", name="延庆旗舰厅", city="延庆", kind="own_flagship")
        add_store(ctx, code="11-BJ-0003", name="北京王府井旗舰厅", city="北京")
        add_store(ctx, code="44-GZ-0001", name="广州天河营业厅", province_code="44", city="广州")
        s.commit()


def lost_line(api: Api) -> dict[str, Any]:
    rec = line_record(province="11", home=HOME, status="lost", balance=ENOUGH)
    api.import_lines(rec)
    return rec


def signed_in(api: Api, runtime: Runtime, rec: dict[str, Any]) -> None:
    """A token for a lost line (its SIM is gone, no SMS reaches it)."""
    mint(api, runtime, rec["msisdn"], T0.astimezone(dt.UTC))


def test_a_store_visit_remedy_names_the_stores_nearest_first(
    api: Api, runtime: Runtime, stores: None
) -> None:
    rec = lost_line(api)
    signed_in(api, runtime, rec)
    blocker = next(b for b in api.check(rec["msisdn"])["blockers"] if b["code"] == "ABNORMAL_STATE")
    remedy = blocker["remedy"]
    assert remedy["action"] == "visit_store"
    assert [s["code"] for s in remedy["stores"]] == ["11-BJ-0003", "11-BJ-0002", "11-YQ-0001"]
    assert all(s["can_cancel"] for s in remedy["stores"])
    assert remedy["stores_href"] == "/api/v1/stores?province_code=11&city=北京&can_cancel=true"


def test_a_clean_line_has_no_store_list(api: Api, stores: None) -> None:
    rec = line_record(province="11", home=HOME, balance=ENOUGH)
    api.import_lines(rec)
    api.sign_in(rec["msisdn"])
    body = api.check(rec["msisdn"])
    assert body["eligible"] is True and "stores" not in str(body)


def test_refusals_are_listed_newest_first_with_their_messages(
    api: Api, runtime: Runtime, stores: None
) -> None:
    rec = lost_line(api)
    m = rec["msisdn"]
    signed_in(api, runtime, rec)
    check = api.check(m)
    r = api.cancel(rec, check)
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED"
    shown = r.json()["blockers"][0]["remedy"]
    assert shown["stores"][0]["code"] == "11-BJ-0003"
    api.set_clock(T0 + dt.timedelta(minutes=5))
    assert api.cancel(rec, check).status_code == 409

    r = api.client.get(f"/api/v1/lines/{m}/refusals", headers=api.auth(m))
    assert r.status_code == 200, r.text
    listed = r.json()["refusals"]
    assert len(listed) == 2
    assert listed[0]["at"] > listed[1]["at"]
    first = listed[0]
    assert first["reference"].startswith("RF-11-")
    assert first["channel"] == "online" and first["store_code"] is None
    assert first["codes"] == ["ABNORMAL_STATE"]
    message = first["messages"][0]
    assert message["code"] == "ABNORMAL_STATE" and "挂失" in message["message"]
    assert message["message_en"] and message["remedy"]["action"] == "visit_store"
    assert message["remedy"]["stores"][0]["code"] == "11-BJ-0003"


def test_an_old_refusal_gets_its_messages_from_the_codes(api: Api, runtime: Runtime) -> None:
    rec = line_record(province="11")
    api.import_lines(rec)
    m = rec["msisdn"]
    with runtime.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == m)).one()
        s.add(
            Refusal(
                line_id=line.id,
                province_code="11",
                channel="online",
                codes=["ARREARS", "SOMETHING_NEW"],
                at=T0 - dt.timedelta(days=30),
                reference=None,
                blockers=None,
            )
        )
        s.commit()
    api.sign_in(m)
    listed = api.client.get(f"/api/v1/lines/{m}/refusals", headers=api.auth(m)).json()["refusals"]
    messages = listed[0]["messages"]
    assert messages[0]["code"] == "ARREARS" and "欠费" in messages[0]["message"]
    assert messages[0]["remedy"]["action"] == "pay"
    assert messages[1] == {
        "code": "SOMETHING_NEW",
        "message": "SOMETHING_NEW",
        "message_en": "SOMETHING_NEW",
        "remedy": None,
    }


def refused(api: Api, runtime: Runtime) -> tuple[dict[str, Any], str]:
    rec = lost_line(api)
    signed_in(api, runtime, rec)
    assert api.cancel(rec, api.check(rec["msisdn"])).status_code == 409
    m = rec["msisdn"]
    listed = api.client.get(f"/api/v1/lines/{m}/refusals", headers=api.auth(m)).json()
    return rec, listed["refusals"][0]["reference"]


def test_the_notice_is_a_signed_pdf_naming_reasons_remedies_and_the_complaint_route(
    api: Api, runtime: Runtime, stores: None
) -> None:
    rec, ref = refused(api, runtime)
    m = rec["msisdn"]
    r = api.client.get(f"/api/v1/lines/{m}/refusals/{ref}.pdf", headers=api.auth(m))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    squeezed = "".join(text.replace("\x00", "").split())
    for expected in (
        "拒绝销户告知书",
        "Noticeofrefusal",
        ref,
        f"{m[:3]}****{m[-4:]}",
        "ABNORMAL_STATE",
        "挂失",
        "北京王府井旗舰厅",
        "10086",
        "12300",
        "yhssglxt.miit.gov.cn",
    ):
        assert expected in squeezed, expected
    assert m not in squeezed  # the number masked

    sig = PdfFileReader(io.BytesIO(r.content)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[sig.signer_cert]))
    assert status.intact and status.valid
    expected_key = (
        derived_key(runtime.settings.key)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert sig.signer_cert.public_key.dump() == expected_key

    # One byte changed inside a stream of the signed content: the signature says so.
    at = r.content.index(b"stream") + 20
    tampered = r.content[:at] + bytes([r.content[at] ^ 0xFF]) + r.content[at + 1 :]
    bad = PdfFileReader(io.BytesIO(tampered)).embedded_signatures[0]
    trusted = ValidationContext(trust_roots=[bad.signer_cert])
    assert not validate_pdf_signature(bad, trusted).intact


def test_who_may_read_a_notice(api: Api, runtime: Runtime, stores: None) -> None:
    rec, ref = refused(api, runtime)
    m = rec["msisdn"]
    url = f"/api/v1/lines/{m}/refusals/{ref}.pdf"
    other = line_record(province="11")
    api.import_lines(other)
    api.sign_in(other["msisdn"])
    o = other["msisdn"]
    # Another line's token: 403 on this line; this notice under the other line: 403 too.
    assert api.client.get(url, headers=api.auth(o)).status_code == 403
    r = api.client.get(f"/api/v1/lines/{o}/refusals/{ref}.pdf", headers=api.auth(o))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = api.client.get(f"/api/v1/lines/{m}/refusals/RF-11-20261124-NOSUCH.pdf", headers=api.auth(m))
    assert r.status_code == 404 and r.json()["code"] == "REFUSAL_NOT_FOUND"
    assert api.client.get(url).status_code == 401
    # Any clerk reads it (stores serve every province's lines); a hotline agent's staff token
    # does not (only the caller's session token).
    clerk = staff(runtime, login="bj.clerk", role="clerk", store_code="11-BJ-0009")
    assert api.client.get(url, headers=bearer(clerk)).status_code == 200
    assert api.client.get(f"/api/v1/lines/{m}/refusals", headers=bearer(clerk)).status_code == 200
    gz = staff(runtime, login="gz.clerk", role="clerk", province="44", store_code="44-GZ-0009")
    assert api.client.get(url, headers=bearer(gz)).status_code == 200
    agent = staff(runtime, login="bj.hotline")
    assert api.client.get(url, headers=bearer(agent)).status_code == 403
