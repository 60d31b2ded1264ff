"""A province's settlement statement (省间结算对账单) as a PDF, on the receipt's bilingual page.

It shows the province's side of the settled month as the run answered it (each other
province's dues both ways, the net, the transfers it makes or receives), then the same figures
read back from the province's own books: the period's movements on its `due_to` / `due_from`
accounts, what the settlement transaction cleared, and its settlement bank account. Each pair
is compared to the fen; the statement says whether it reconciles.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from xiaohu.http import UnitOfWork, require_admin
from xiaohu.kit.clock import SHANGHAI, local_date
from xiaohu.kit.errors import DomainError, error_responses
from xiaohu.kit.money import yuan
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Context
from xiaohu.settlement import service
from xiaohu.web.receipt import BilingualPdf, ReceiptFontMissing, find_cjk_font

router = APIRouter(tags=["settlement"])
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One figure of the statement beside the ledger's."""

    zh: str
    en: str
    statement_fen: int
    ledger_fen: int

    @property
    def agrees(self) -> bool:
        return self.statement_fen == self.ledger_fen


def checks(result: dict[str, Any], ledger: dict[str, Any], province: str) -> list[Check]:
    """The statement's totals against the province's books."""
    mine = next((s for s in result["statements"] if s["province_code"] == province), None)
    receivable = mine["receivable_fen"] if mine else 0
    payable = mine["payable_fen"] if mine else 0
    paid = sum(t["amount_fen"] for t in result["transfers"] if t["from"] == province)
    received = sum(t["amount_fen"] for t in result["transfers"] if t["to"] == province)
    return [
        Check("应付（due_to 本期发生额）", "Payable: due_to, the period", payable,
              sum(ledger["payable"].values())),
        Check("应收（due_from 本期发生额）", "Receivable: due_from, the period", receivable,
              sum(ledger["receivable"].values())),
        Check("结算冲销应付", "Payable cleared by the settlement", payable,
              ledger["cleared_payable_fen"]),
        Check("结算冲销应收", "Receivable cleared by the settlement", receivable,
              ledger["cleared_receivable_fen"]),
        Check("结算银行（转账净额）", "Settlement bank: transfers, net", received - paid,
              ledger["settlement_bank_fen"]),
    ]  # fmt: skip


def render(result: dict[str, Any], ledger: dict[str, Any], province: str) -> bytes:
    pdf = BilingualPdf(find_cjk_font())
    name = PROVINCES[province]
    period = result["period"]
    pdf.set_title(f"省间结算对账单 Settlement statement {period} {province}")
    pdf.add_page()
    pdf.set_font("cjk", "B", 20)
    pdf.cell(0, 11, "省间结算对账单", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 11)
    pdf.cell(0, 6, "Inter-province settlement statement", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.rule()
    pdf.pair("省份", "Province", f"{name.name} {name.name_en} ({province})")
    pdf.pair("账期", "Period", period)
    settled = dt.datetime.fromisoformat(result["settled_at"])
    pdf.pair(
        "结算时间", "Settled at", settled.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (UTC+8)")
    )
    method = "精确最少（CP-SAT）" if result["method"] == "exact" else "快速（贪心）"
    proved = "，已证明最少 / proved minimal" if result["optimal"] else ""
    pdf.pair("净额方法", "Netting", f"{method} {result['method']}{proved}")

    mine = next((s for s in result["statements"] if s["province_code"] == province), None)
    pdf.heading_pair("本期应收应付", "Dues of the period")
    for other, payable, receivable in _by_province(ledger):
        label = f"{PROVINCES[other].short} {other}"
        both_ways = f"应付 payable {yuan(payable)}   应收 receivable {yuan(receivable)}"
        pdf.pair(label, PROVINCES[other].name_en, both_ways, right=True)
    totals = mine or {"receivable_fen": 0, "payable_fen": 0, "net_fen": 0}
    pdf.pair("应收合计", "Receivable, total", yuan(totals["receivable_fen"]), right=True)
    pdf.pair("应付合计", "Payable, total", yuan(totals["payable_fen"]), right=True)
    pdf.pair("净额", "Net (+ receives)", yuan(totals["net_fen"]), right=True)

    pdf.heading_pair("转账", "Transfers")
    mine_transfers = [t for t in result["transfers"] if province in (t["from"], t["to"])]
    for t in mine_transfers:
        pays = t["from"] == province
        peer = PROVINCES[t["to"] if pays else t["from"]]
        zh, en = ("付给", f"pays {peer.name_en}") if pays else ("收自", f"from {peer.name_en}")
        pdf.pair(zh, en, f"{peer.short} {peer.code}  {yuan(t['amount_fen'])}", right=True)
    if not mine_transfers:
        pdf.pair("无", "None", "—")

    pdf.heading_pair("与账簿核对", "Reconciliation with the province's books")
    all_agree = True
    for c in checks(result, ledger, province):
        mark = "一致 agrees" if c.agrees else "不符 DIFFERS"
        all_agree &= c.agrees
        pdf.pair(c.zh, c.en, f"{yuan(c.statement_fen)} / {yuan(c.ledger_fen)}  {mark}", right=True)
    pdf.ln(2)
    pdf.set_font("cjk", "B", 11)
    verdict = (
        "本对账单与账簿逐分一致。 The statement reconciles to the ledger to the fen."
        if all_agree
        else "本对账单与账簿不符，请核查。 The statement does NOT reconcile to the ledger."
    )
    pdf.multi_cell(0, 6, verdict, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 8)
    pdf.cell(0, 5, f"xiaohu · {local_date(settled)}", new_x="LMARGIN")
    return bytes(pdf.output())


def _by_province(ledger: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(other province, payable, receivable) from the ledger's figures, in code order."""
    others = sorted(set(ledger["payable"]) | set(ledger["receivable"]))
    return [(o, ledger["payable"].get(o, 0), ledger["receivable"].get(o, 0)) for o in others]


@router.get(
    "/api/v1/admin/settlement/{period}/statements/{province_code}.pdf",
    summary="A province's settlement statement, reconciled to its books (PDF)",
    description=(
        "Chinese with English beside: the province's dues with each other province, the net, "
        "its transfers, and each total compared with its own ledger to the fen."
    ),
    dependencies=[Depends(require_admin)],
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The statement"},
        **error_responses(
            "UNAUTHENTICATED", "FORBIDDEN", "PERIOD_INVALID", "SETTLEMENT_NOT_FOUND", "NOT_FOUND"
        ),
    },
)
def statement_pdf(period: str, province_code: str, ctx: UnitOfWork) -> Response:
    result = service.find(ctx, period)
    if province_code not in PROVINCES:
        raise DomainError("NOT_FOUND", f"no province {province_code!r}")
    body = statement_bytes(ctx, result, province_code)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="xiaohu-settlement-{period}-{province_code}.pdf"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


def statement_bytes(ctx: Context, result: dict[str, Any], province: str) -> bytes:
    ledger = service.ledger_view(ctx, result["period"], province)
    try:
        return render(result, ledger, province)
    except ReceiptFontMissing as exc:  # an installation problem, said plainly
        log.error("settlement statement not rendered: %s", exc)
        raise DomainError("INTERNAL_ERROR", str(exc)) from exc
