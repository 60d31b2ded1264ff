"""The line's invoices (电子发票): the list. The PDF of one is `web/invoice.py` (it is drawn
with the receipt's bilingual page, which lives with the pages)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from xiaohu.http import UnitOfWork
from xiaohu.invoices import service
from xiaohu.invoices.models import Invoice
from xiaohu.invoices.schemas import InvoiceOut, InvoicesOut
from xiaohu.kit.errors import error_responses
from xiaohu.staff.deps import line_or_clerk

router = APIRouter(prefix="/api/v1/lines", tags=["invoices"])


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        number=invoice.number,
        kind=invoice.kind,
        issuer_province=invoice.province_code,
        amount_fen=invoice.amount_fen,
        issued_at=invoice.issued_at,
        original_number=invoice.original_number,
    )


@router.get(
    "/{msisdn}/invoices",
    response_model=InvoicesOut,
    summary="The line's invoices, newest first: blue for payments, red for refunds",
    description="The line's own token (subscriber or hotline), or any clerk's token.",
    responses=error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND"),
    dependencies=[Depends(line_or_clerk)],
)
def invoices(msisdn: str, ctx: UnitOfWork) -> InvoicesOut:
    return InvoicesOut(invoices=[invoice_out(i) for i in service.list_for(ctx, msisdn)])
