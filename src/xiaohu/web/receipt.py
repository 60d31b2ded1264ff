"""The cancellation receipt (销户证明) as a PDF.

The subscriber's evidence that the number was closed, what was charged and refunded, and when
the number may be issued again. Chinese text needs a CJK font; none is committed to the
repository: the font comes from an operating-system package (Debian `fonts-noto-cjk`, or
`fonts-wqy-microhei` / `fonts-arphic-uming`), found at run time, or named by `XIAOHU_CJK_FONT`.
Its words come from the pages' gettext catalogs: each label in Chinese, then in English.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from xiaohu.kit.money import yuan
from xiaohu.web.i18n import MESSAGES, N_, local_date, local_time, translate

FONT_ENV = "XIAOHU_CJK_FONT"
# Where Debian's font packages put their CJK faces, best first.
_PACKAGED_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class ReceiptFontMissing(RuntimeError):
    """No CJK font is installed: the receipt cannot show Chinese."""


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # face number inside a .ttc collection


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    label_en: str
    amount_fen: int


@dataclass(frozen=True)
class ReceiptData:
    reference: str
    msisdn: str
    owner_name_masked: str
    id_number_masked: str
    home: str
    channel: str
    cancelled_at: dt.datetime
    undo_until: dt.datetime
    quarantine_until: dt.date | None
    route: str
    charges: list[ReceiptLine] = field(default_factory=list)
    cash_balance_fen: int | None = None
    refund_now_fen: int = 0
    reserve_fen: int = 0
    forfeited_fen: int = 0
    status: str = "cancelled"
    verification: str = ""
    reversed_at: dt.datetime | None = None
    # What a reversal does not bring back (remedies done before the cancellation), or "".
    not_restored_zh: str = ""
    not_restored_en: str = ""
    # The refund made at cancellation: pending until the gateway pays it out, paid, failed;
    # None when nothing was refunded then.
    refund_status: str | None = None


def both(message: str, **values: str) -> tuple[str, str]:
    """A message in Chinese and in English, `%(name)s` placeholders filled."""
    zh, en = translate(message, "zh"), translate(message, "en")
    return (zh % values, en % values) if values else (zh, en)


def refund_status_text(status: str | None) -> str | None:
    """'已退款 / Refunded': the page's words (never "refunded" before the gateway paid it)."""
    source = MESSAGES.get(f"refund_status_{status}")
    return " / ".join(both(source)) if source else None


def _simplified_face(path: Path) -> int:
    """In a collection, the Simplified Chinese face (names ending 'SC'/'CN'); else the first."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    try:
        from fontTools.ttLib import TTCollection

        collection = TTCollection(str(path), lazy=True)
        for i, font in enumerate(collection.fonts):
            family = str(font["name"].getDebugName(1) or "")
            if family.endswith((" SC", " CN")) and "Mono" not in family:
                return i
    except Exception:  # a font we cannot read is still worth a try at face 0
        return 0
    return 0


def _fc_match() -> Path | None:
    """Ask fontconfig for any installed Chinese face."""
    fc = shutil.which("fc-match")
    if fc is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [fc, "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out) if out else None
    return path if path and path.suffix.lower() in (".ttf", ".ttc", ".otf") else None


@lru_cache(maxsize=1)
def find_cjk_font() -> FontFace:
    """The CJK font to embed, or a clear error naming the package to install."""
    named = os.environ.get(FONT_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ReceiptFontMissing(f"{FONT_ENV}={named} is not a font file")
        return FontFace(path, _simplified_face(path))
    for candidate in _PACKAGED_FONTS:
        path = Path(candidate)
        if path.is_file():
            return FontFace(path, _simplified_face(path))
    found = _fc_match()
    if found is not None:
        return FontFace(found, _simplified_face(found))
    raise ReceiptFontMissing(
        "no CJK font found for the PDF receipt: install Debian's fonts-noto-cjk "
        f"(`make browser` does) or set {FONT_ENV} to a .ttf/.otf/.ttc file"
    )


def _bold_of(face: FontFace) -> FontFace | None:
    bold = face.path.with_name(face.path.name.replace("Regular", "Bold"))
    if bold != face.path and bold.is_file():
        return FontFace(bold, face.index)
    return None


def _local(at: dt.datetime) -> str:
    """Beijing time with its zone named, as the Chinese text writes it."""
    return local_time(at, "zh")


TITLE = N_("Certificate of number cancellation")
INK = (31, 41, 55)
MUTED = (100, 110, 125)
ACCENT = (11, 94, 120)
RULE = (214, 221, 228)


class BilingualPdf(FPDF):
    """An A4 page in Chinese with English beside (the receipt, the refusal notice): the CJK
    font embedded, the house colours, labelled fields."""

    def __init__(self, face: FontFace, title: str = TITLE) -> None:
        super().__init__(format="A4", unit="mm")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=18)
        self.add_font("cjk", "", str(face.path), collection_font_number=face.index)
        bold = _bold_of(face)
        self.add_font(
            "cjk", "B", str((bold or face).path), collection_font_number=(bold or face).index
        )
        self.set_title(" ".join(both(title)))
        self.set_creator("xiaohu")
        self.set_lang("zh-CN")

    def rule(self) -> None:
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(3)

    def heading(self, message: str) -> None:
        self.heading_pair(*both(message))

    def heading_pair(self, zh: str, en: str) -> None:
        self.ln(2)
        self.set_font("cjk", "B", 12)
        self.set_text_color(*ACCENT)
        self.cell(0, 7, f"{zh}  ", new_x="END")
        self.set_font("cjk", "", 9)
        self.set_text_color(*MUTED)
        self.cell(0, 7, en, new_x="LMARGIN", new_y="NEXT")
        self.rule()

    def field(self, message: str, value: str, *, right: bool = False) -> None:
        zh, en = both(message)
        self.pair(zh, en, value, right=right)

    def pair(self, zh: str, en: str, value: str, *, right: bool = False) -> None:
        width = self.w - self.l_margin - self.r_margin
        self.set_font("cjk", "", 10.5)
        self.set_text_color(*INK)
        y = self.get_y()
        zh_width = self.get_string_width(zh) + 3
        self.cell(zh_width, 6.5, zh)
        self.set_font("cjk", "", 8)
        self.set_text_color(*MUTED)
        self.cell(max(1.0, 80 - zh_width), 6.5, en)
        self.set_font("cjk", "B" if right else "", 10.5)
        self.set_text_color(*INK)
        self.set_xy(self.l_margin + 80, y)
        self.multi_cell(width - 80, 6.5, value, align="R" if right else "L")
        self.ln(0.5)


def render(data: ReceiptData) -> bytes:
    """The receipt as PDF bytes (A4, Chinese with English labels)."""
    pdf = BilingualPdf(find_cjk_font())
    pdf.add_page()
    pdf.set_font("cjk", "B", 22)
    pdf.set_text_color(*INK)
    title_zh, title_en = both(TITLE)
    pdf.cell(0, 12, title_zh, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 11)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, title_en, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.rule()

    pdf.field(N_("Reference"), data.reference)
    pdf.field(N_("Number"), data.msisdn)
    pdf.field(N_("Owner"), data.owner_name_masked)
    pdf.field(N_("Owner's ID number"), data.id_number_masked)
    pdf.field(N_("Home province"), data.home)
    pdf.field(N_("Channel"), data.channel)
    pdf.field(N_("Closed at"), _local(data.cancelled_at))
    if data.status == "reversed":
        at = _local(data.reversed_at) if data.reversed_at else ""
        pdf.field(
            N_("Status"), " / ".join(both(N_("Reversed %(time)s: the number is in use"), time=at))
        )
    else:
        pdf.field(N_("Undo possible until"), _local(data.undo_until))
    if data.quarantine_until is not None:
        pdf.field(N_("Number quarantined until"), local_date(data.quarantine_until, "zh"))

    pdf.heading(N_("Settlement"))
    if data.cash_balance_fen is not None:
        pdf.field(N_("Cash balance"), yuan(data.cash_balance_fen), right=True)
    for item in data.charges:
        pdf.pair(item.label, item.label_en, yuan(-item.amount_fen), right=True)
    pdf.field(N_("Refund"), yuan(data.refund_now_fen), right=True)
    status_text = refund_status_text(data.refund_status)
    if status_text:
        pdf.field(N_("Refund status"), status_text)
    pdf.field(N_("Reserve (trued up at cycle close)"), yuan(data.reserve_fen), right=True)
    pdf.field(N_("Gift credit forfeited"), yuan(data.forfeited_fen), right=True)
    pdf.field(N_("Refund route"), data.route)

    pdf.heading(N_("Notes"))
    pdf.set_font("cjk", "", 10)
    pdf.set_text_color(*INK)
    notes, note_en = _notes(data)
    for note in notes:
        pdf.multi_cell(0, 6, note, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.set_font("cjk", "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 5, note_en, new_x="LMARGIN", new_y="NEXT")
    if data.verification:
        pdf.ln(4)
        pdf.set_font("cjk", "", 9)
        label = " ".join(both(N_("Verification code")))
        pdf.cell(0, 5, f"{label}: {data.verification}", new_x="LMARGIN")
    return bytes(pdf.output())


def _notes(data: ReceiptData) -> tuple[list[str], str]:
    """The notes in Chinese (one paragraph each) and in English. A reversed cancellation says
    only that it was reversed, and when: its service was never left stopped."""
    if data.status == "reversed":
        at = _local(data.reversed_at) if data.reversed_at else ""
        reversed_zh, reversed_en = both(
            N_(
                "The cancellation of the number above was reversed (undone) at %(time)s: the "
                "number is in use again and the final charges were reversed."
            ),
            time=at,
        )
        zh, en = [reversed_zh], reversed_en
    else:
        certifies = both(
            N_(
                "This certifies that the number above was cancelled. The reserve is trued up "
                "automatically when the billing cycle closes."
            )
        )
        unbind = both(
            N_(
                "Unbind bank, WeChat, Alipay and other internet accounts from this number "
                "before it is issued again."
            )
        )
        zh, en = [certifies[0], unbind[0]], f"{certifies[1]} {unbind[1]}"
    if data.not_restored_zh:
        zh.append(data.not_restored_zh)
        en += " " + data.not_restored_en
    return zh, en
