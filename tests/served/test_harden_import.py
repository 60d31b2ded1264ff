"""The sandbox line import over HTTP, against what an outside test sent it: deeply nested
JSON, a large body of invalid records, money over the bound and digits that are not ASCII."""

from __future__ import annotations

import time
from typing import Any

from tests.factories import line_record
from tests.served.harness import Served

DEPTH = 1000


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def _post_raw(server: Served, body: bytes, kind: str = "application/json") -> Any:
    return server.http.post("/api/v1/sandbox/lines", content=body, headers={"content-type": kind})


def test_a_deeply_nested_array_is_a_422_and_the_connection_goes_on(server: Served) -> None:
    r = _post_raw(server, b"[" * DEPTH + b"]" * DEPTH)
    problem = _problem(r, 422, "IMPORT_INVALID")
    assert problem["errors"][0]["field"] == "(record)"
    assert "nested" in problem["errors"][0]["reason"]
    # The same keep-alive connection answers the next request.
    assert server.get("/healthz").status_code == 200


def test_a_deeply_nested_json_line_is_reported_on_its_line(server: Served) -> None:
    body = b'{"msisdn": 1}\n' + b'{"a": ' * DEPTH + b"1" + b"}" * DEPTH + b"\n"
    r = _post_raw(server, body, "application/x-ndjson")
    problem = _problem(r, 422, "IMPORT_INVALID")
    nested = [e for e in problem["errors"] if e["line"] == 2]
    assert nested and "nested" in nested[0]["reason"], problem["errors"]
    assert server.get("/healthz").status_code == 200


def test_many_invalid_records_stop_at_the_error_cap_and_say_how_many_were_left(
    server: Served,
) -> None:
    records = 400_000  # 1.2 MB of "{}" lines: 22 s and +220 MB before the cap
    started = time.monotonic()
    r = _post_raw(server, b"{}\n" * records, "application/x-ndjson")
    took = time.monotonic() - started
    problem = _problem(r, 422, "IMPORT_INVALID")
    assert len(problem["errors"]) == 1000
    assert set(problem["errors"][0]) == {"line", "field", "reason"}
    checked = problem["errors"][-1]["line"]
    assert problem["records_unchecked"] == records - checked > 0
    assert took < 5, f"{took:.1f} s"


def test_an_empty_import_is_refused(server: Served) -> None:
    for body in (b"", b"[]", b"\n\n"):
        problem = _problem(_post_raw(server, body), 422, "IMPORT_INVALID")
        assert "no records" in problem["detail"]


def test_every_import_money_field_is_bounded(server: Served) -> None:
    over = 10**11 + 1
    record = line_record(
        balance={"cash_fen": over, "gift_fen": over},
        usage_unbilled_fen=over,
        usage_history_fen=[over],
        unpaid_bills=[{"period": "2026-10", "amount_fen": over, "due_on": "2026-11-20"}],
    )
    record["plan"] = {**record["plan"], "monthly_fee_fen": over}
    r = server.post("/api/v1/sandbox/lines", [record])
    problem = _problem(r, 422, "IMPORT_INVALID")
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {
        "balance.cash_fen",
        "balance.gift_fen",
        "usage_unbilled_fen",
        "usage_history_fen[0]",
        "unpaid_bills[0].amount_fen",
        "plan.monthly_fee_fen",
    }, problem["errors"]
    assert all("100000000000" in e["reason"] for e in problem["errors"])
    # At the bound it is booked.
    ok = line_record(balance={"cash_fen": 10**11, "gift_fen": 0})
    assert server.post("/api/v1/sandbox/lines", [ok]).status_code == 200


def test_full_width_and_arabic_indic_digits_are_refused(server: Served) -> None:
    for period in ("２０２７-０１", "٢٠٢٧-٠١", "2027-٠١"):
        r = server.post("/api/v1/sandbox/runs/close-cycle", {"period": period})
        assert r.status_code == 422, (period, r.text)
        assert r.json()["code"] in {"PERIOD_INVALID", "VALIDATION_FAILED"}
    record = line_record()
    wide = record["msisdn"].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    r = server.post("/api/v1/sandbox/lines", [{**record, "msisdn": wide}])
    problem = _problem(r, 422, "IMPORT_INVALID")
    assert problem["errors"][0]["field"] == "msisdn"
    r = server.post(
        "/api/v1/sandbox/lines", [{**line_record(), "service_password": "１２３４５６"}]
    )
    assert _problem(r, 422, "IMPORT_INVALID")["errors"][0]["field"] == "service_password"


def test_the_import_body_limit_defaults_to_16_mib(server: Served) -> None:
    r = _post_raw(server, b"\n" * (16 * 2**20 + 1), "application/x-ndjson")
    assert _problem(r, 413, "PAYLOAD_TOO_LARGE")["limit_bytes"] == 16 * 2**20
