"""The refusal notice (拒绝销户告知书) as a signed PDF: the subscriber's evidence for a complaint.

What the operator refused and why, in Chinese with English beside: the line (masked), when
and where (channel, store), each reason with its message and remedy as the subscriber was
shown it, and where to complain (the operator's customer service, then the regulator's
telecom user complaint centre). The page is drawn like the receipt (`receipt.BilingualPdf`,
the same CJK font) and signed (`kit.signing`), so it cannot be edited unnoticed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xiaohu.kit.money import yuan
from xiaohu.kit.signing import SignatureText, sign_pdf, signer
from xiaohu.web.i18n import local_time
from xiaohu.web.receipt import INK, MUTED, BilingualPdf, find_cjk_font

TITLE_ZH, TITLE_EN = "拒绝销户告知书", "Notice of refusal to cancel a number"
REGULATOR_PHONE = "12300"
REGULATOR_URL = "https://yhssglxt.miit.gov.cn"
CHANNELS = {
    "online": ("网上营业厅", "online"),
    "hotline": ("客服热线", "hotline"),
    "store": ("营业厅", "store"),
    "auto": ("系统", "system"),
}
# A remedy's action in words; a store visit also lists the stores that can help.
REMEDIES = {
    "pay": ("在线缴清欠费", "Pay the amount owed online"),
    "visit_store": ("机主本人携带证件原件到营业厅办理", "The owner visits a store with the ID"),
    "early_termination": ("支付违约金提前解约", "Pay the early-termination penalty"),
    "release_bundle": ("转移融合宽带主号或一并取消宽带", "Move or cancel the broadband bundle"),
    "release_family": ("移出或转移家庭成员", "Remove or re-home the family group's members"),
    "cancel_order": ("撤销或等待在途订单", "Cancel the pending order, or wait for it"),
    "wait": ("待处理完成后再申请销户", "Wait until it has completed, then cancel"),
    "complaint": ("按下方投诉渠道申诉", "Complain by the route below"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    message_en: str
    remedy: dict[str, Any] | None


@dataclass(frozen=True)
class NoticeData:
    reference: str
    msisdn_masked: str
    at: dt.datetime
    channel: str
    store: str | None  # "name (code)" where a store refused
    reasons: list[Reason] = field(default_factory=list)
    operator_name: str = ""
    operator_phone: str = ""


def remedy_text(remedy: dict[str, Any] | None) -> tuple[str, str] | None:
    """The remedy in words, in Chinese and English (None when there is none to take)."""
    if not remedy:
        return None
    action = str(remedy.get("action") or "")
    zh, en = REMEDIES.get(action, (action, action))
    amount = remedy.get("amount_fen") or remedy.get("penalty_fen")
    if isinstance(amount, int) and amount > 0:
        zh, en = f"{zh}（{yuan(amount)}）", f"{en} ({yuan(amount)})"
    stores = remedy.get("stores") or []
    if stores:
        names = "、".join(f"{s['name']}（{s['code']}）" for s in stores)
        zh += f"。可办理的营业厅：{names}"
        en += f". Stores that can: {', '.join(str(s['code']) for s in stores)}"
    return zh, en


def render(data: NoticeData) -> bytes:
    """The notice as PDF bytes, unsigned."""
    pdf = BilingualPdf(find_cjk_font())
    pdf.set_title(f"{TITLE_ZH} {TITLE_EN}")
    pdf.add_page()
    pdf.set_font("cjk", "B", 22)
    pdf.set_text_color(*INK)
    pdf.cell(0, 12, TITLE_ZH, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("cjk", "", 11)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, TITLE_EN, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(4)
    pdf.rule()

    channel_zh, channel_en = CHANNELS.get(data.channel, (data.channel, data.channel))
    pdf.pair("告知书编号", "Reference", data.reference)
    pdf.pair("号码", "Number", data.msisdn_masked)
    pdf.pair("时间", "When", local_time(data.at, "zh"))
    pdf.pair("渠道", "Channel", f"{channel_zh} / {channel_en}")
    if data.store:
        pdf.pair("营业厅", "Store", data.store)

    pdf.heading_pair("拒绝原因及解决办法", "Reasons and remedies")
    for i, reason in enumerate(data.reasons, start=1):
        _reason(pdf, i, reason)

    pdf.heading_pair("投诉渠道", "How to complain")
    _paragraph(
        pdf,
        f"运营商只能依据上列原因拒绝销户。如有异议，请先拨打{data.operator_name}客服热线"
        f"{data.operator_phone}投诉；对处理结果不满意或未获答复的，可向工业和信息化部电信用户"
        f"申诉受理中心申诉：电话{REGULATOR_PHONE}，网址{REGULATOR_URL}。请出示本告知书编号。",
        f"The operator may refuse only on the reasons above. To dispute them, complain first to "
        f"the operator's customer service, {data.operator_phone}; if the answer does not settle "
        f"it, or none comes, appeal to MIIT's telecom user complaint centre: {REGULATOR_PHONE}, "
        f"{REGULATOR_URL}. Quote this notice's reference.",
    )
    _paragraph(
        pdf,
        f"本告知书由{data.operator_name}电子签名，可在PDF阅读器中验证签名，任何改动都会使签名失效。",
        "This notice is digitally signed by the operator; a PDF reader shows the signature, and "
        "any change to the document breaks it.",
    )
    return bytes(pdf.output())


def _reason(pdf: BilingualPdf, number: int, reason: Reason) -> None:
    pdf.set_font("cjk", "B", 10.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 6, f"{number}. {reason.message}  [{reason.code}]", new_x="LMARGIN", align="L")
    pdf.set_font("cjk", "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 5, reason.message_en, new_x="LMARGIN", new_y="NEXT", align="L")
    text = remedy_text(reason.remedy)
    if text is not None:
        pdf.set_font("cjk", "", 10)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 6, f"解决办法：{text[0]}", new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font("cjk", "", 8.5)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 5, f"Remedy: {text[1]}", new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2)


def _paragraph(pdf: BilingualPdf, zh: str, en: str) -> None:
    pdf.set_font("cjk", "", 10)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 6, zh, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("cjk", "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 5, en, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2)


def signed(data: NoticeData, master: bytes, cert: Path | None, password: str | None) -> bytes:
    """The notice rendered and signed with the installation's notice key."""
    text = SignatureText(
        reason=f"{TITLE_ZH} {data.reference}",
        location=data.store or CHANNELS.get(data.channel, (data.channel,))[0],
        signer_name=data.operator_name,
    )
    return sign_pdf(render(data), signer(master, cert, password), text)
