"""The settlement routes in-process: the dues, the sandbox run and its 409, the settled
period, the matrix's picture and a province's statement read back from the PDF."""

from __future__ import annotations

import datetime as dt
import io

from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.settlement.support import OCTOBER, post_due
from xiaohu.kit.db import transaction
from xiaohu.runtime import Runtime


def add_dues(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        post_due(session, "32", "44", 20_000, OCTOBER + dt.timedelta(days=2))
        post_due(session, "32", "44", 5_050, OCTOBER + dt.timedelta(days=9))
        post_due(session, "44", "11", 3_000, OCTOBER + dt.timedelta(days=12))
        post_due(session, "11", "32", 1_000, OCTOBER + dt.timedelta(days=30, hours=23))


def test_dues_run_settlement_picture_and_statement(client: TestClient, runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"settlement_solver_seconds": 2.0})
    add_dues(runtime)
    r = client.put("/api/v1/sandbox/clock", json={"now": "2026-11-01T00:00:00+08:00"})
    assert r.status_code == 200, r.text

    r = client.get("/api/v1/admin/settlement/dues", params={"period": "2026-10"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "period": "2026-10",
        "dues": [
            {"from": "11", "to": "32", "amount_fen": 1_000},
            {"from": "32", "to": "44", "amount_fen": 25_050},
            {"from": "44", "to": "11", "amount_fen": 3_000},
        ],
        "total_fen": 29_050,
    }
    assert client.get("/api/v1/admin/settlement/2026-10").json()["code"] == "SETTLEMENT_NOT_FOUND"

    r = client.post("/api/v1/sandbox/runs/settle", json={"period": "2026-11"})
    assert (r.status_code, r.json()["code"]) == (409, "PERIOD_NOT_ENDED")
    r = client.post("/api/v1/sandbox/runs/settle", json={"period": "2026-10"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["gross_fen"] == 29_050
    # Nets: 32 pays 24,050; 44 receives 22,050; 11 receives 2,000: two transfers at least.
    assert sorted((t["from"], t["to"], t["amount_fen"]) for t in result["transfers"]) == [
        ("32", "11", 2_000),
        ("32", "44", 22_050),
    ]
    assert (result["method"], result["optimal"]) == ("exact", True)
    assert {s["province_code"]: s["net_fen"] for s in result["statements"]} == {
        "11": 2_000, "32": -24_050, "44": 22_050
    }  # fmt: skip
    again = client.post("/api/v1/sandbox/runs/settle", json={"period": "2026-10"})
    assert again.json() == result
    assert client.get("/api/v1/admin/settlement/2026-10").json() == result

    png = client.get("/api/v1/admin/settlement/2026-10/matrix.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG") and len(png.content) > 10_000

    pdf = client.get("/api/v1/admin/settlement/2026-10/statements/44.pdf")
    assert pdf.status_code == 200, pdf.text
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    text = "".join(page.extract_text() for page in pages).replace("\x00", "")
    assert "¥220.50" in text  # the net and the settlement bank account
    assert "reconciles to the ledger to the fen" in text
    assert "DIFFERS" not in text
    missing = client.get("/api/v1/admin/settlement/2026-10/statements/99.pdf")
    assert missing.status_code == 404
    assert client.get("/api/v1/admin/settlement/2026-09/matrix.png").status_code == 404
    bad = client.get("/api/v1/admin/settlement/dues", params={"period": "2026-1x"})
    assert (bad.status_code, bad.json()["code"]) == (422, "PERIOD_INVALID")
