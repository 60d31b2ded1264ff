"""The pages over HTTP (no browser): CSRF, cookies, redirects, friendly errors, the receipt.

These run on the rolled-back test database, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import SERVICE_PASSWORD, line_record
from xiaohu.cancellation.models import Refusal
from xiaohu.lines.models import Line, PendingOrder
from xiaohu.runtime import Runtime
from xiaohu.web import csrf

NOW = "2026-11-24T10:00:00+08:00"
RICH = {"cash_fen": 50000, "gift_fen": 0}


@pytest.fixture()
def web(client: TestClient) -> TestClient:
    r = client.put("/api/v1/sandbox/clock", json={"now": NOW})
    assert r.status_code == 200
    return client


def add(client: TestClient, **overrides: Any) -> dict[str, Any]:
    record = line_record(**overrides)
    r = client.post("/api/v1/sandbox/lines", json=[record])
    assert r.status_code == 200, r.text
    return record


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, msisdn: str) -> str:
    """Sign in through the pages; the CSRF token valid after sign-in."""
    token = token_of(client.get("/").text)
    r = client.post("/sign-in/code", data={"csrf_token": token, "msisdn": msisdn})
    assert r.status_code == 200, r.text
    sms = client.get("/api/v1/sandbox/sms", params={"msisdn": msisdn}).json()["messages"]
    code = re.search(r"\d{6}", sms[0]["text"])
    assert code
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "msisdn": msisdn, "otp": code.group(0),
              "service_password": SERVICE_PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/line"
    return token_of(client.get("/line").text)


def test_first_visit_sets_an_httponly_lax_browser_session_cookie(web: TestClient) -> None:
    r = web.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{csrf.SID_COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert '<html lang="zh-CN">' in r.text


def test_a_form_without_the_csrf_token_is_refused(web: TestClient) -> None:
    record = add(web)
    web.get("/")
    for data in ({"msisdn": record["msisdn"]}, {"msisdn": record["msisdn"], "csrf_token": "x"}):
        r = web.post("/sign-in/code", data=data)
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("text/html")
    assert web.get("/api/v1/sandbox/sms", params={"msisdn": record["msisdn"]}).json() == {
        "messages": []
    }


def test_a_token_from_another_browser_session_is_refused(web: TestClient) -> None:
    record = add(web)
    stolen = token_of(web.get("/").text)
    web.cookies.clear()
    web.get("/")  # a new sid
    r = web.post("/sign-in/code", data={"csrf_token": stolen, "msisdn": record["msisdn"]})
    assert r.status_code == 403


def test_sign_in_sets_the_session_cookie_and_rotates_the_csrf_token(web: TestClient) -> None:
    record = add(web)
    before = token_of(web.get("/").text)
    after = sign_in(web, record["msisdn"])
    assert after != before
    session = web.cookies.get("xh_session")
    assert session and session.count(".") == 4
    r = web.get("/line")
    assert record["plan"]["name"] in r.text
    assert "¥50.00" in r.text  # the factory's cash balance, in yuan


def test_pages_need_a_session(web: TestClient) -> None:
    for path in ("/line", "/line/check", "/line/confirm", "/done/nope"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/?expired=1", path


def test_a_malformed_number_is_named_on_the_page(web: TestClient) -> None:
    token = token_of(web.get("/").text)
    r = web.post("/sign-in/code", data={"csrf_token": token, "msisdn": "12345"})
    assert r.status_code == 422
    assert "请输入 11 位手机号码" in r.text and 'aria-invalid="true"' in r.text


def test_the_language_switch_never_redirects_off_site(web: TestClient) -> None:
    r = web.get("/lang", params={"to": "en", "next": "//evil.example/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = web.get("/")
    assert '<html lang="en">' in page.text and "Sign in" in page.text


def test_a_domain_error_is_a_page_not_json(web: TestClient) -> None:
    record = add(web)
    sign_in(web, record["msisdn"])
    r = web.get("/done/no-such-id")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "销户记录不存在" in r.text


def test_paying_arrears_from_the_check_page(web: TestClient) -> None:
    record = add(
        web,
        balance=RICH,
        unpaid_bills=[{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}],
    )
    token = sign_in(web, record["msisdn"])
    page = web.get("/line/check").text
    assert 'id="blocker-arrears"' in page and "立即缴费 ¥38.00" in page
    r = web.post(
        "/line/remedy",
        data={"csrf_token": token, "action": "pay", "amount_fen": "3800", "form_key": "k1",
              "confirmed": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/line/check?done=pay"
    page = web.get("/line/check").text
    assert 'id="blocker-arrears"' not in page and "可以销户" in page


def test_confirm_names_a_wrong_identity_and_keeps_the_line(web: TestClient) -> None:
    record = add(web, balance=RICH)
    token = sign_in(web, record["msisdn"])
    page = web.get("/line/confirm").text
    quote = re.search(r'name="quote_id" value="([^"]+)"', page)
    assert quote
    acks = re.findall(r'name="ack" value="([A-Z_]+)"', page)
    assert acks[0] == "UNBIND_INTERNET_ACCOUNTS"
    r = web.post(
        "/line/cancel",
        data={"csrf_token": token, "quote_id": quote.group(1), "route": "original",
              "name": "某某某", "id_number": record["owner"]["id_number"], "ack": acks},
    )  # fmt: skip
    assert r.status_code == 403
    assert "机主姓名或证件号码不符" in r.text
    assert 'class="badge status-active"' in web.get("/line").text


def test_cancel_then_receipt_for_the_owner_only(web: TestClient) -> None:
    record = add(web, balance=RICH)
    other = add(web, balance=RICH)
    token = sign_in(web, record["msisdn"])
    page = web.get("/line/confirm").text
    quote = re.search(r'name="quote_id" value="([^"]+)"', page)
    assert quote
    r = web.post(
        "/line/cancel",
        data={"csrf_token": token, "quote_id": quote.group(1), "route": "original",
              "name": record["owner"]["name"], "id_number": record["owner"]["id_number"],
              "ack": re.findall(r'name="ack" value="([A-Z_]+)"', page)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    done_url = r.headers["location"]
    cancellation_id = done_url.rsplit("/", 1)[1]
    done = web.get(done_url).text
    assert 'id="reference"' in done and 'id="undo"' in done

    receipt = f"/api/v1/cancellations/{cancellation_id}/receipt.pdf"
    pdf = web.get(receipt)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]

    web.cookies.clear()
    assert web.get(receipt).status_code == 401
    sign_in(web, other["msisdn"])
    r = web.get(receipt)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def cancel_on_pages(web: TestClient, record: dict[str, Any]) -> str:
    """Sign in and cancel through the pages; the done page's path."""
    return cancel_signed_in(web, record, sign_in(web, record["msisdn"]))


def cancel_signed_in(web: TestClient, record: dict[str, Any], token: str) -> str:
    """Confirm and cancel the signed-in line with every warning acknowledged; the done page's
    path."""
    page = web.get("/line/confirm").text
    quote = re.search(r'name="quote_id" value="([^"]+)"', page)
    assert quote
    r = web.post(
        "/line/cancel",
        data={"csrf_token": token, "quote_id": quote.group(1), "route": "original",
              "name": record["owner"]["name"], "id_number": record["owner"]["id_number"],
              "ack": re.findall(r'name="ack" value="([A-Z_]+)"', page)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def sign_in_by_reference(
    web: TestClient, record: dict[str, Any], reference: str, **overrides: str
) -> Any:
    """Send-code finds the number cancelled and offers the reference form; submit it."""
    token = token_of(web.get("/").text)
    r = web.post("/sign-in/code", data={"csrf_token": token, "msisdn": record["msisdn"]})
    assert r.status_code == 409 and 'action="/sign-in/reference"' in r.text
    assert "已销户，不再接收短信验证码" in r.text
    form = {
        "csrf_token": token,
        "msisdn": record["msisdn"],
        "reference": reference,
        "service_password": SERVICE_PASSWORD,
        "id_number": record["owner"]["id_number"],
    }
    form.update(overrides)
    return web.post("/sign-in/reference", data=form, follow_redirects=False)


def test_a_cancelled_line_signs_in_to_its_done_page_with_undo(web: TestClient) -> None:
    record = add(web, balance=RICH)
    done_url = cancel_on_pages(web, record)
    reference = re.search(r'id="reference">([^<]+)<', web.get(done_url).text)
    assert reference
    web.cookies.clear()
    r = web.put("/api/v1/sandbox/clock", json={"now": "2026-11-25T08:00:00+08:00"})
    assert r.status_code == 200
    # The session expired; the undo window has not. No SMS: the reference signs in.
    r = sign_in_by_reference(web, record, reference.group(1).lower())
    assert r.status_code == 303 and r.headers["location"] == "/line"
    r = web.get("/line", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == done_url
    done = web.get(done_url).text
    assert 'id="undo"' in done
    r = web.post(f"{done_url}/undo", data={"csrf_token": token_of(done)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{done_url}?reversed=1"
    assert 'class="badge status-active"' in web.get("/line").text


def test_a_cancelled_line_reads_its_settlement_once_the_cycle_closed(web: TestClient) -> None:
    record = add(web, balance=RICH)
    done_url = cancel_on_pages(web, record)
    reference = re.search(r'id="reference">([^<]+)<', web.get(done_url).text)
    assert reference and 'id="settlement"' not in web.get(done_url).text
    web.cookies.clear()
    r = web.post("/api/v1/sandbox/usage", json={"msisdn": record["msisdn"], "amount_fen": 733})
    assert r.status_code == 201, r.text
    web.put("/api/v1/sandbox/clock", json={"now": "2026-12-01T02:00:00+08:00"})
    r = web.post("/api/v1/sandbox/runs/close-cycle", json={"period": "2026-11"})
    assert r.status_code == 200 and r.json()["settled"] == 1, r.text
    r = sign_in_by_reference(web, record, reference.group(1))
    assert r.status_code == 303
    done = web.get(web.get("/line", follow_redirects=False).headers["location"]).text
    assert 'id="settlement"' in done and 'id="undo"' not in done
    assert '<dd class="amount" id="settlement-late-usage">¥7.33</dd>' in done


def test_the_reference_form_counts_failures_and_locks_like_the_api(web: TestClient) -> None:
    record = add(web, balance=RICH)
    done_url = cancel_on_pages(web, record)
    reference = re.search(r'id="reference">([^<]+)<', web.get(done_url).text)
    assert reference
    web.cookies.clear()
    r = sign_in_by_reference(web, record, "XH-WRONG")
    assert r.status_code == 401 and 'id="wrong-reference"' in r.text
    assert "还可尝试 4 次" in r.text
    for wrong in ("000000", "111111", "222222"):
        r = sign_in_by_reference(web, record, reference.group(1), service_password=wrong)
        assert r.status_code == 401
    r = sign_in_by_reference(web, record, reference.group(1), id_number="110101199001011237")
    assert r.status_code == 429 and 'id="locked-until"' in r.text
    r = sign_in_by_reference(web, record, reference.group(1))  # right, but locked
    assert r.status_code == 429 and web.cookies.get("xh_session") is None


def test_the_reference_form_names_its_fields_and_a_live_number(web: TestClient) -> None:
    live = add(web)
    web.get("/lang", params={"to": "en"})
    page = web.get("/sign-in/reference")
    assert page.status_code == 200 and "Sign in to a cancelled number" in page.text
    token = token_of(page.text)
    r = web.post("/sign-in/reference", data={"csrf_token": token, "msisdn": "123"})
    assert r.status_code == 422
    for message in ("Enter the reference.", "6 digits", "ID number"):
        assert message in r.text
    r = web.post("/sign-in/reference", data={"msisdn": live["msisdn"]})
    assert r.status_code == 403  # no CSRF token
    r = web.post(
        "/sign-in/reference",
        data={"csrf_token": token, "msisdn": live["msisdn"], "reference": "XH-1",
              "service_password": SERVICE_PASSWORD, "id_number": live["owner"]["id_number"]},
    )  # fmt: skip
    assert r.status_code == 401 and "is not a cancelled number" in r.text
    assert 'href="/sign-in/reference"' in web.get("/").text


def test_a_blocked_cancellation_from_the_page_keeps_its_refusal(
    web: TestClient, runtime: Runtime
) -> None:
    record = add(web, balance=RICH)
    token = sign_in(web, record["msisdn"])
    page = web.get("/line/confirm").text
    quote = re.search(r'name="quote_id" value="([^"]+)"', page)
    assert quote
    with runtime.sessions() as s:  # an order opened after the quote: now blocked
        line = s.scalars(select(Line).where(Line.msisdn == record["msisdn"])).one()
        s.add(PendingOrder(line_id=line.id, province_code=line.province_code,
                           order_ref="O-late", kind="plan_change"))  # fmt: skip
        s.commit()
    r = web.post(
        "/line/cancel",
        data={"csrf_token": token, "quote_id": quote.group(1), "route": "original",
              "name": record["owner"]["name"], "id_number": record["owner"]["id_number"],
              "ack": re.findall(r'name="ack" value="([A-Z_]+)"', page)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/line/check"
    with runtime.sessions() as s:
        [refusal] = s.scalars(select(Refusal)).all()
        assert refusal.codes == ["PENDING_ORDER"]
        assert s.scalar(select(Line.status).where(Line.msisdn == record["msisdn"])) == "active"
