"""Invoice numbers under concurrent payments (PostgreSQL, real threads): each province's
numbers run 1, 2, 3 … without a gap or a repeat, whatever order the payments commit in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.contracts.helpers import NOW, auth
from tests.factories import line_record, load
from xiaohu.app import create_app
from xiaohu.billing.models import Payment
from xiaohu.invoices.models import Invoice, InvoiceCounter
from xiaohu.invoices.rules import number
from xiaohu.kit.clock import FrozenClock
from xiaohu.kit.db import transaction
from xiaohu.ledger.service import trial_balance
from xiaohu.runtime import Context, Runtime

LINES_PER_PROVINCE = 6
PAYMENTS_PER_LINE = 3


def test_concurrent_payments_number_without_gaps(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with transaction(rt.sessions) as session:
        ctx = Context(rt, session, FrozenClock(NOW), actor="test")
        lines = load(
            ctx,
            *(line_record(province=p) for p in ("32", "44") for _ in range(LINES_PER_PROVINCE)),
        )
        jobs = [
            (line.msisdn, auth(rt, line), f"k-{i}", 100 + i)
            for line in lines
            for i in range(PAYMENTS_PER_LINE)
        ]
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        assert client.put("/api/v1/sandbox/clock", json={"now": NOW.isoformat()}).is_success

        def pay(job: tuple[str, dict[str, str], str, int]) -> int:
            msisdn, headers, key, amount = job
            r = client.post(
                f"/api/v1/lines/{msisdn}/payments",
                json={"amount_fen": amount},
                headers={**headers, "Idempotency-Key": key},
            )
            return r.status_code

        # Every payment twice (a client retrying its key at once): one invoice each still.
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(pay, jobs + jobs))
    assert set(statuses) == {201}, statuses
    per_province = LINES_PER_PROVINCE * PAYMENTS_PER_LINE
    with transaction(rt.sessions) as session:
        invoices = session.scalars(select(Invoice)).all()
        payments = {p.id: p for p in session.scalars(select(Payment))}
        assert len(payments) == len(invoices) == 2 * per_province
        for province in ("32", "44"):
            mine = [i for i in invoices if i.province_code == province]
            assert sorted(i.seq for i in mine) == list(range(1, per_province + 1))
            assert {i.number for i in mine} == {
                number(province, 2026, s) for s in range(1, per_province + 1)
            }
            counter = session.get(InvoiceCounter, (province, 2026))
            assert counter is not None and counter.last_seq == per_province
        for invoice in invoices:  # each payment's own invoice, of its amount, on its line
            payment = payments[invoice.payment_id or ""]
            assert (invoice.amount_fen, invoice.line_id) == (payment.amount_fen, payment.line_id)
        assert trial_balance(session)["balanced"]
