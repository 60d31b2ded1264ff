"""The clerk console over HTTP (no browser): sign-in for clerks only, the documents, the store
check, a cash payment, a cash refund from the drawer, the receipt and the drawer's day.

These run on the rolled-back test database, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cancellation.support import assert_books_consistent
from tests.factories import STAFF_PASSWORD, add_staff, add_store, line_record, staff_token
from xiaohu.audit.models import AuditEvent
from xiaohu.audit.service import verify
from xiaohu.billing.models import Payment
from xiaohu.cancellation.models import Cancellation
from xiaohu.runtime import Context
from xiaohu.web import console_session, csrf

NOW = "2026-11-24T10:00:00+08:00"
STORE = "11-BJ-0001"
ARREARS = [{"period": "2026-10", "amount_fen": 3800, "due_on": "2026-11-15"}]


@pytest.fixture()
def web(client: TestClient, ctx: Context) -> TestClient:
    r = client.put("/api/v1/sandbox/clock", json={"now": NOW})
    assert r.status_code == 200
    add_store(ctx, code=STORE)
    add_staff(ctx, login="bj.wang", role="clerk", store_code=STORE)
    add_staff(ctx, login="bj.hot", role="hotline_agent", store_code=None)
    ctx.session.commit()
    return client


def add(client: TestClient, **overrides: Any) -> dict[str, Any]:
    record = line_record(**{"balance": {"cash_fen": 50000, "gift_fen": 0}, **overrides})
    r = client.post("/api/v1/sandbox/lines", json=[record])
    assert r.status_code == 200, r.text
    return record


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def field(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert tag, f"the page has no {name} field"
    found = re.search(r'value="([^"]*)"', tag.group(0))
    return found.group(1) if found else ""


def sign_in(client: TestClient, login: str = "bj.wang", password: str = STAFF_PASSWORD) -> Any:
    token = token_of(client.get("/console").text)
    return client.post(
        "/console/sign-in",
        data={"csrf_token": token, "login": login, "password": password},
        follow_redirects=False,
    )


def signed_in(client: TestClient) -> str:
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "/console/find", r.text
    return token_of(client.get("/console/find").text)


def owner_documents(record: dict[str, Any], **overrides: str) -> dict[str, str]:
    o = record["owner"]
    data = {
        "msisdn": record["msisdn"],
        "mode": "owner",
        "owner_id_type": o.get("id_type", "resident_id"),
        "owner_name": o["name"],
        "owner_id_number": o["id_number"],
        "originals_seen": "1",
    }
    data.update(overrides)
    return data


def start_visit(client: TestClient, record: dict[str, Any]) -> str:
    """The documents entered; the check page's HTML."""
    html = client.get("/console/find", params={"msisdn": record["msisdn"]}).text
    r = client.post(
        "/console/visit",
        data={"csrf_token": token_of(html), **owner_documents(record)},
        follow_redirects=False,
    )
    assert r.status_code == 200 and 'data-screen="check"' in r.text, r.text
    return r.text


def pay(client: TestClient, html: str, amount: str, method: str = "cash") -> Any:
    return client.post(
        "/console/visit/pay",
        data={"csrf_token": token_of(html), "form_key": field(html, "form_key"),
              "amount": amount, "method": method},
        follow_redirects=False,
    )  # fmt: skip


def cancel_in_cash(client: TestClient, html: str) -> Any:
    acks = re.findall(r'name="ack" value="([A-Z_]+)"', html)
    form = re.search(r'<form[^>]*id="cancel-form".*?</form>', html, re.S)
    assert form, "no cancel form on the check page"
    return client.post(
        "/console/visit/cancel",
        data={"csrf_token": token_of(html), "form_key": field(form.group(0), "form_key"),
              "quote_id": field(html, "quote_id"), "route": "cash", "ack": acks},
        follow_redirects=False,
    )  # fmt: skip


# --- signing in ----------------------------------------------------------------------------


def test_the_console_asks_for_a_clerk_sign_in_first(web: TestClient) -> None:
    r = web.get("/console")
    assert r.status_code == 200 and 'data-screen="console-sign-in"' in r.text
    assert "营业员登录" in r.text
    for path in ("/console/find", "/console/visit", "/console/drawer"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console?expired=1"


def test_a_clerk_signs_in_with_a_staff_cookie_of_its_own(web: TestClient) -> None:
    r = sign_in(web)
    assert r.status_code == 303 and r.headers["location"] == "/console/find"
    cookies = [c.lower() for c in r.headers.get_list("set-cookie")]
    staff = next(c for c in cookies if c.startswith(f"{console_session.STAFF_COOKIE}="))
    assert "httponly" in staff and "samesite=lax" in staff and "path=/console" in staff
    assert not any(c.startswith("xh_session=") for c in cookies)  # not the subscriber's
    assert any(c.startswith(f"{csrf.SID_COOKIE}=") for c in cookies)  # rotated
    page = web.get("/console/find")
    assert page.status_code == 200 and "bj.wang" in page.text and STORE in page.text


def test_another_role_is_told_the_console_is_for_clerks(web: TestClient) -> None:
    r = sign_in(web, login="bj.hot")
    assert r.status_code == 403
    assert 'data-code="not_a_clerk"' in r.text and "只有营业厅营业员" in r.text
    assert console_session.STAFF_COOKIE not in r.headers.get("set-cookie", "")
    assert web.get("/console/find", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_in_the_page_language(web: TestClient) -> None:
    r = sign_in(web, password="not-the-password")
    assert r.status_code == 401 and 'data-code="VERIFICATION_FAILED"' in r.text
    assert "登录名或密码错误" in r.text
    web.get("/lang", params={"to": "en", "next": "/console"})
    r = sign_in(web, password="not-the-password")
    assert r.status_code == 401 and "The login or the password is wrong." in r.text
    assert '<html lang="en">' in r.text


def test_a_staff_token_of_another_role_in_the_cookie_opens_nothing(
    web: TestClient, ctx: Context
) -> None:
    agent = add_staff(ctx, login="bj.other", role="backoffice", store_code=None)
    web.cookies.set(console_session.STAFF_COOKIE, staff_token(ctx, agent))
    r = web.get("/console/find", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console?expired=1"


def test_every_form_needs_the_csrf_token(web: TestClient) -> None:
    record = add(web)
    signed_in(web)
    for path, data in (
        ("/console/sign-in", {"login": "bj.wang", "password": STAFF_PASSWORD}),
        ("/console/visit", owner_documents(record)),
        ("/console/visit/pay", {"amount": "38", "method": "cash"}),
        ("/console/visit/cancel", {"route": "cash"}),
        ("/console/sign-out", {}),
    ):
        r = web.post(path, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403, path
        assert 'data-screen="csrf"' in r.text


# --- the documents -------------------------------------------------------------------------


def test_the_documents_form_names_each_missing_piece(web: TestClient) -> None:
    record = add(web)
    token = signed_in(web)
    data = owner_documents(record, mode="proxy", originals_seen="")
    r = web.post("/console/visit", data={"csrf_token": token, **data})
    assert r.status_code == 422
    for name in ("agent_name", "agent_id_number", "letter_reference", "originals_seen"):
        assert f'id="{name}-error"' in r.text, name
    assert console_session.VISIT_COOKIE not in r.headers.get("set-cookie", "")


def test_documents_that_are_not_the_owners_are_refused_with_the_code(web: TestClient) -> None:
    record = add(web)
    token = signed_in(web)
    data = owner_documents(record, owner_name="张冒名")
    r = web.post("/console/visit", data={"csrf_token": token, **data}, follow_redirects=False)
    assert r.status_code == 403 and 'data-screen="documents"' in r.text
    assert 'data-code="REAL_NAME_MISMATCH"' in r.text and "机主姓名或证件号码不符" in r.text


def test_the_visit_cookie_is_sealed_and_bound_to_the_clerk(web: TestClient, ctx: Context) -> None:
    record = add(web)
    signed_in(web)
    start_visit(web, record)
    sealed = web.cookies.get(console_session.VISIT_COOKIE)
    assert sealed and record["owner"]["id_number"] not in sealed
    other = add_staff(ctx, login="bj.li", role="clerk", store_code=STORE)
    ctx.session.commit()
    web.cookies.set(console_session.STAFF_COOKIE, staff_token(ctx, other))
    r = web.get("/console/visit", follow_redirects=False)  # another clerk: no visit
    assert r.status_code == 303 and r.headers["location"] == "/console/find"


# --- the whole visit -----------------------------------------------------------------------


def test_arrears_paid_in_cash_then_closed_with_a_cash_refund(web: TestClient, ctx: Context) -> None:
    record = add(web, balance={"cash_fen": 20000, "gift_fen": 0}, unpaid_bills=ARREARS)
    signed_in(web)
    html = start_visit(web, record)
    assert 'id="blocker-arrears"' in html and 'id="cancel-form"' not in html
    assert field(html, "amount") == "38.00"

    r = pay(web, html, "38.00")
    assert r.status_code == 200 and 'id="paid"' in r.text
    replay = pay(web, html, "38.00")  # the same form sent again: charged once
    assert replay.status_code == 200 and 'id="paid"' in replay.text
    payments = ctx.session.scalars(select(Payment).where(Payment.store_code == STORE)).all()
    assert [(p.amount_fen, p.method, p.staff_login) for p in payments] == [
        (3800, "cash", "bj.wang")
    ]

    html = r.text
    assert "¥38.00" in html
    assert 'id="blocker-arrears"' not in html
    refund_now = re.search(r'id="refund-now">([^<]+)<', html)
    assert refund_now

    r = cancel_in_cash(web, html)
    assert r.status_code == 303, r.text
    receipt = web.get(r.headers["location"])
    assert receipt.status_code == 200 and 'id="hand-over"' in receipt.text
    assert refund_now.group(1) in receipt.text
    cancellation_id = r.headers["location"].split("/")[-1].split("?")[0]

    pdf = web.get(f"/console/cancellations/{cancellation_id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    drawer = web.get("/console/drawer")
    assert drawer.status_code == 200
    assert 'data-reconciled="true"' in drawer.text
    assert 'id="cash-in">+¥38.00' in drawer.text
    assert f'id="cash-out">−{refund_now.group(1)}' in drawer.text

    actors = set(
        ctx.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.subject == f"line:{record['msisdn']}")
        )
    )
    assert "clerk:bj.wang" in actors and "subscriber" not in actors
    assert_books_consistent(ctx.session)
    assert verify(ctx.session)["intact"]


def test_a_cancel_without_the_warnings_acknowledged_is_refused_on_the_form(
    web: TestClient,
) -> None:
    record = add(web)
    signed_in(web)
    html = start_visit(web, record)
    r = web.post(
        "/console/visit/cancel",
        data={"csrf_token": token_of(html), "form_key": "k-1",
              "quote_id": field(html, "quote_id"), "route": "cash"},
    )  # fmt: skip
    assert r.status_code == 422
    assert 'data-code="WARNINGS_NOT_ACKNOWLEDGED"' in r.text
    assert 'id="cancel-form"' in r.text  # the form again, nothing closed


def test_a_bank_card_refund_needs_a_card_number(web: TestClient) -> None:
    record = add(web)
    signed_in(web)
    html = start_visit(web, record)
    r = web.post(
        "/console/visit/cancel",
        data={"csrf_token": token_of(html), "quote_id": field(html, "quote_id"),
              "route": "bank_card", "account": "12"},
    )  # fmt: skip
    assert r.status_code == 422 and 'id="account-error"' in r.text


def test_the_console_speaks_english(web: TestClient) -> None:
    record = add(web, unpaid_bills=ARREARS)
    signed_in(web)
    web.get("/lang", params={"to": "en", "next": "/console"})
    html = start_visit(web, record)
    assert '<html lang="en">' in html
    assert "Unpaid bills" in html and "Take the payment" in html
    assert "营业员" not in html


def test_a_proxy_brings_the_agents_document_and_the_letter(web: TestClient) -> None:
    record = add(web)
    token = signed_in(web)
    data = owner_documents(
        record, mode="proxy", agent_name="李代办", agent_id_type="passport",
        agent_id_number="E98765432", letter_reference="SQ-2026-0001",
    )  # fmt: skip
    r = web.post("/console/visit", data={"csrf_token": token, **data}, follow_redirects=False)
    assert r.status_code == 200, r.text
    assert "代办人：李代办" in r.text and 'id="cancel-form"' in r.text


def test_an_undo_at_the_counter_uses_the_visits_documents(web: TestClient, ctx: Context) -> None:
    record = add(web)
    signed_in(web)
    html = start_visit(web, record)
    r = cancel_in_cash(web, html)
    here = r.headers["location"].split("?")[0]
    page = web.get(here).text
    assert 'id="reverse"' in page
    r = web.post(f"{here}/reverse", data={"csrf_token": token_of(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{here}?reversed=1"
    page = web.get(r.headers["location"]).text
    assert 'id="reversed"' in page and 'id="reverse"' not in page
    actions = ctx.session.execute(
        select(AuditEvent.action, AuditEvent.actor).where(
            AuditEvent.subject == f"line:{record['msisdn']}"
        )
    ).all()
    assert ("store.documents_seen", "clerk:bj.wang") in actions
    row = ctx.session.get(Cancellation, here.rsplit("/", 1)[-1])
    assert row is not None and row.status == "reversed"
    assert_books_consistent(ctx.session)


def test_an_unknown_cancellation_is_a_page_with_the_codes_message(web: TestClient) -> None:
    signed_in(web)
    r = web.get("/console/cancellations/nope")
    assert r.status_code == 404 and 'data-code="CANCELLATION_NOT_FOUND"' in r.text


def test_a_get_never_runs_the_check(web: TestClient) -> None:
    """The check reads documents (a mismatch counts, the audit keeps them): only in a POST."""
    record = add(web)
    signed_in(web)
    start_visit(web, record)
    page = web.get("/console/visit")
    assert page.status_code == 200 and 'data-screen="visit"' in page.text
    assert 'id="quote"' not in page.text
    r = web.post("/console/visit/check", data={"csrf_token": token_of(page.text)})
    assert r.status_code == 200 and 'id="cancel-form"' in r.text


def test_signing_out_forgets_the_clerk_and_the_visit(web: TestClient) -> None:
    record = add(web)
    token = signed_in(web)
    start_visit(web, record)
    token = token_of(web.get("/console/find").text)
    r = web.post("/console/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cleared = " ".join(r.headers.get_list("set-cookie"))
    assert f"{console_session.STAFF_COOKIE}=" in cleared
    assert f"{console_session.VISIT_COOKIE}=" in cleared
    assert web.get("/console/visit", follow_redirects=False).status_code == 303


def test_another_provinces_line_is_found_but_not_taken_in(web: TestClient) -> None:
    record = add(web, province="44")
    signed_in(web)
    page = web.get("/console/find", params={"msisdn": record["msisdn"]})
    assert page.status_code == 200 and 'id="other-province"' in page.text
    assert 'action="/console/visit"' not in page.text


def test_a_clerk_of_another_province_opens_the_receipt_too(web: TestClient, ctx: Context) -> None:
    """A store of any province serves any line, so any clerk reads a cancellation back (as
    the API's `GET /cancellations/{id}` with a clerk's token)."""
    record = add(web)
    signed_in(web)
    r = cancel_in_cash(web, start_visit(web, record))
    here = r.headers["location"].split("?")[0]
    add_store(ctx, code="44-GZ-0001", name="广州天河营业厅", province_code="44", city="广州")
    other = add_staff(ctx, login="gz.li", role="clerk", province_code="44", store_code="44-GZ-0001")
    ctx.session.commit()
    web.cookies.set(console_session.STAFF_COOKIE, staff_token(ctx, other))
    for path in (here, f"{here}/receipt.pdf"):
        r = web.get(path)
        assert r.status_code == 200, path


def test_a_lost_line_is_lifted_at_the_counter_then_closed(web: TestClient, ctx: Context) -> None:
    record = add(web, status="lost")
    signed_in(web)
    html = start_visit(web, record)
    assert 'id="clear-lift_lost_state"' in html and 'id="cancel-form"' not in html
    r = web.post(
        "/console/visit/clear",
        data={"csrf_token": token_of(html), "action": "lift_lost_state"},
    )
    assert r.status_code == 200 and 'id="cleared"' in r.text
    assert 'id="cancel-form"' in r.text
    assert cancel_in_cash(web, r.text).status_code == 303
    events = ctx.session.execute(
        select(AuditEvent.action, AuditEvent.actor).where(
            AuditEvent.subject == f"line:{record['msisdn']}"
        )
    ).all()
    assert ("line.lost_lifted", "clerk:bj.wang") in events


def test_a_locked_out_login_is_told_until_when(web: TestClient) -> None:
    for _ in range(4):
        assert sign_in(web, password="not-the-password").status_code == 401
    r = sign_in(web, password="not-the-password")
    assert r.status_code == 429 and 'data-code="VERIFICATION_LOCKED"' in r.text
    assert "2026年11月24日" in r.text  # the time it opens again, in Beijing time
    assert sign_in(web).status_code == 429  # even with the right password, until then
