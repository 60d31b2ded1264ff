"""The PDF receipt: Chinese text embedded with a packaged CJK font, a clear error without one."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from xiaohu.web import receipt
from xiaohu.web.csrf import is_valid, token_for
from xiaohu.web.receipt import ReceiptData, ReceiptFontMissing, ReceiptLine, render

CST = dt.timezone(dt.timedelta(hours=8))


def data() -> ReceiptData:
    return ReceiptData(
        reference="XH-11-20261124-ABC123",
        msisdn="13800138000",
        owner_name_masked="*三",
        id_number_masked="110101********803X",
        home="北京",
        channel="网上自助 Online",
        cancelled_at=dt.datetime(2026, 11, 24, 10, 5, tzinfo=CST),
        undo_until=dt.datetime(2026, 11, 25, 10, 5, tzinfo=CST),
        quarantine_until=dt.date(2027, 2, 22),
        route="原路退回 The way you paid",
        charges=[ReceiptLine("本月套餐费（按天）", "Plan fee", 10320)],
        refund_now_fen=36910,
        reserve_fen=2000,
        forfeited_fen=0,
        verification="ABCD-EFGH-JKLM",
    )


@pytest.fixture()
def font_cache() -> object:
    receipt.find_cjk_font.cache_clear()
    yield
    receipt.find_cjk_font.cache_clear()


def test_the_receipt_is_a_pdf_with_the_chinese_text(font_cache: object) -> None:
    try:
        receipt.find_cjk_font()
    except ReceiptFontMissing:
        pytest.skip("no CJK font installed (make browser installs fonts-noto-cjk)")
    pdf = render(data())
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed to read the text back")
    tool = shutil.which("pdftotext") or "pdftotext"
    decoded = subprocess.run(  # noqa: S603 (a fixed local tool)
        [tool, "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    for expected in ("销户证明", "XH-11-20261124-ABC123", "¥369.10", "-¥103.20", "2027年2月22日"):
        assert expected in decoded


def test_a_missing_font_is_a_clear_error(
    font_cache: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(receipt.FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(ReceiptFontMissing, match="XIAOHU_CJK_FONT"):
        render(data())


def test_csrf_tokens_are_bound_to_the_browser_session() -> None:
    key = b"k" * 32
    token = token_for(key, "sid-1")
    assert is_valid(key, "sid-1", token)
    assert not is_valid(key, "sid-2", token)
    assert not is_valid(b"x" * 32, "sid-1", token)
    assert not is_valid(key, None, token)
    assert not is_valid(key, "sid-1", "")
