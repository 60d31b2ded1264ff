"""Settlement against a real `xiaohu serve`, on either engine: a month of cross-region dues in
the server's ledger, the dues read back, the run (and the command on the same database) once,
the picture and a province's statement."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess

from pypdf import PdfReader
from sqlalchemy.orm import Session

from tests.served.harness import Served, xiaohu_command
from tests.settlement.support import OCTOBER, post_due
from xiaohu.kit.db import make_engine

DUES = [("32", "44", 30_000), ("44", "32", 1_000), ("11", "44", 2_500), ("44", "65", 700)]


def add_dues(server: Served) -> None:
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session, session.begin():
            for day, (payer, receiver, amount) in enumerate(DUES, start=1):
                post_due(session, payer, receiver, amount, OCTOBER + dt.timedelta(days=day))
    finally:
        engine.dispose()


def test_a_month_settled_over_http_and_by_the_command(server: Served) -> None:
    add_dues(server)
    dues = server.get("/api/v1/admin/settlement/dues?period=2026-10")
    assert dues.status_code == 200, dues.text
    assert dues.json()["total_fen"] == 34_200
    assert len(dues.json()["dues"]) == 4

    r = server.post("/api/v1/sandbox/runs/settle", {"period": "2026-11"})
    assert (r.status_code, r.json()["code"]) == (409, "PERIOD_NOT_ENDED")
    r = server.post("/api/v1/sandbox/runs/settle", {"period": "2026-10"})
    assert r.status_code == 200, r.text
    result = r.json()
    nets = {s["province_code"]: s["net_fen"] for s in result["statements"]}
    assert nets == {"11": -2_500, "32": -29_000, "44": 30_800, "65": 700}
    assert len(result["transfers"]) == 3 and result["optimal"]
    assert server.get("/api/v1/admin/settlement/2026-10").json() == result

    # The command on the same database answers the same object and posts nothing.
    done = subprocess.run(  # noqa: S603 (our own command)
        [*xiaohu_command(), "run", "settle", "--period", "2026-10"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == result
    balance = server.get("/api/v1/admin/ledger/trial-balance").json()
    assert balance["balanced"]
    due = {a["code"]: a["balance_fen"] for a in balance["accounts"] if a["code"].startswith("due_")}
    assert set(due.values()) == {0}

    png = server.get("/api/v1/admin/settlement/2026-10/matrix.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    pdf = server.get("/api/v1/admin/settlement/2026-10/statements/44.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    text = "".join(page.extract_text() for page in pages).replace("\x00", "")
    assert "¥308.00" in text and "reconciles to the ledger to the fen" in text
