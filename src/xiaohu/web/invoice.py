"""One invoice (电子发票) as a PDF, on the receipt's bilingual page.

What a Chinese e-invoice shows: its number and date, the seller (the home province's company,
which issued it), the buyer (the line's owner, masked), the item with price, tax rate and tax,
and the total in figures and in capital numerals (大写). A red invoice shows negative amounts
and the blue original it takes back; a reissued blue one names the red one it replaces. Lives
with the pages because it draws on `receipt.BilingualPdf` (its CJK font and catalogs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Response

from xiaohu.http import UnitOfWork
from xiaohu.identity.rules import mask_msisdn, mask_name
from xiaohu.invoices import rules
from xiaohu.invoices import service as invoices
from xiaohu.invoices.models import Invoice
from xiaohu.invoices.rules import InvoiceKind
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.money import yuan
from xiaohu.lines.models import Owner
from xiaohu.lines.service import get_line
from xiaohu.regions.provinces import PROVINCES
from xiaohu.staff.deps import line_or_clerk
from xiaohu.web.i18n import local_time
from xiaohu.web.receipt import INK, MUTED, BilingualPdf, ReceiptFontMissing, find_cjk_font

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/lines", tags=["invoices"])


@dataclass(frozen=True)
class InvoiceData:
    invoice: Invoice
    seller_zh: str
    seller_en: str
    buyer: str
    msisdn: str


def invoice_data(ctx: UnitOfWork, msisdn: str, number: str) -> InvoiceData:
    invoice = invoices.find(ctx, msisdn, number)
    line = get_line(ctx.session, msisdn)
    owner = ctx.session.get(Owner, line.owner_id)
    province = PROVINCES[invoice.province_code]
    operator = ctx.settings.operator_name
    return InvoiceData(
        invoice=invoice,
        seller_zh=f"{operator}{province.name}分公司",
        seller_en=f"{operator}, {province.name_en} branch",
        buyer=mask_name(owner.name) if owner is not None else "*",
        msisdn=mask_msisdn(msisdn),
    )


def render(data: InvoiceData) -> bytes:
    """The invoice as PDF bytes (A4, Chinese with English labels)."""
    invoice = data.invoice
    red = invoice.kind == InvoiceKind.RED
    signed = -invoice.amount_fen if red else invoice.amount_fen
    split = rules.tax_split(signed)
    title_zh = "电子发票（普通发票）" + ("红字" if red else "")
    title_en = "Red-letter e-invoice (credit note)" if red else "E-invoice (ordinary VAT invoice)"
    pdf = BilingualPdf(find_cjk_font())
    pdf.set_title(f"{title_zh} {title_en}")
    pdf.add_page()
    pdf.set_font("cjk", "B", 20)
    pdf.set_text_color(*INK)
    pdf.cell(0, 12, title_zh, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 11)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, title_en, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.rule()
    pdf.pair("发票号码", "Invoice number", invoice.number)
    pdf.pair("开票时间", "Issued at", local_time(invoice.issued_at, "zh"))
    if invoice.original_number:
        if red:
            pdf.pair("对应蓝字发票", "Blue invoice taken back", invoice.original_number)
        else:
            pdf.pair("对应红字发票", "Red invoice reissued", invoice.original_number)

    pdf.heading_pair("销售方", "Seller")
    pdf.pair("名称", "Name", f"{data.seller_zh}\n{data.seller_en}")
    pdf.heading_pair("购买方", "Buyer")
    pdf.pair("名称", "Name", data.buyer)
    pdf.pair("号码", "Number", data.msisdn)

    item_zh, item_en = rules.ITEMS.get(invoice.item, rules.ITEMS["telecom"])
    pdf.heading_pair("项目", "Items")
    pdf.pair("项目名称", "Item", f"{item_zh}\n{item_en}")
    pdf.pair("金额", "Price (tax excluded)", yuan(split.price_fen), right=True)
    pdf.pair("税率", "VAT rate", f"{rules.VAT_PERCENT}%", right=True)
    pdf.pair("税额", "Tax", yuan(split.tax_fen), right=True)
    pdf.rule()
    pdf.pair("价税合计（大写）", "Total in words", rules.capital(signed))
    pdf.pair("价税合计（小写）", "Total in figures", yuan(signed), right=True)
    if red:
        pdf.ln(2)
        pdf.set_font("cjk", "", 9)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(
            0,
            5,
            f"退费冲红：冲减蓝字发票{invoice.original_number}中已退还的金额。\n"
            f"Refund: takes back the refunded part of blue invoice {invoice.original_number}.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


@router.get(
    "/{msisdn}/invoices/{number}.pdf",
    summary="One of the line's invoices as a PDF",
    description="The line's own token (subscriber or hotline), or a clerk's token of the "
    "line's home province.",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The invoice"},
        **error_responses("UNAUTHENTICATED", "FORBIDDEN", "LINE_NOT_FOUND", "INVOICE_NOT_FOUND"),
    },
    dependencies=[Depends(line_or_clerk)],
)
def invoice_pdf(msisdn: str, number: str, ctx: UnitOfWork) -> Response:
    data = invoice_data(ctx, msisdn, number)
    try:
        body = render(data)
    except ReceiptFontMissing as exc:  # an installation problem, said plainly
        log.error("invoice not rendered: %s", exc)
        raise DomainError("INTERNAL_ERROR", str(exc)) from exc
    filename = f"xiaohu-invoice-{data.invoice.number}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
