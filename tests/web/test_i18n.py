"""The gettext catalogs: every message the pages and the receipt use is translated in every
language, with the same placeholders; plurals and dates follow each language's rules."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tests.web.test_pages import NOW, RICH, add, token_of
from tests.web.test_refund_status import cancel_on_pages
from xiaohu.web.i18n import (
    LOCALE_DIR,
    LOCALES,
    charge_label,
    local_date,
    local_time,
    message,
    route_label,
    translations,
)

ROOT = Path(__file__).parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> dict[str | tuple[str, str], str]:
    """What `pybabel extract` finds in the source today (babel.cfg, the N_ marker too)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: dict[str | tuple[str, str], str] = {}
    for filename, lineno, msgid, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found[msgid] = f"{filename}:{lineno}"
    return found


def catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_every_message_in_the_source_is_translated(locale: str) -> None:
    messages = extracted()
    assert len(messages) > 200, "the extraction found too little: babel.cfg no longer matches"
    po = catalog(locale)
    problems = []
    for msgid, where in messages.items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = po.get(key)
        if entry is None:
            problems.append(f"{where}: not in the catalog (make i18n): {key!r}")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(forms):
            problems.append(f"{where}: untranslated or fuzzy: {key!r}")
        wanted = set(PLACEHOLDER.findall(key))
        for form in forms:
            if set(PLACEHOLDER.findall(form)) != wanted:
                problems.append(f"{where}: placeholders differ in {form!r}")
    assert problems == []


def _flat(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_the_committed_mo_is_compiled_from_the_po(locale: str) -> None:
    po = catalog(locale)
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = read_mo(f)
    compiled = {_flat(m.id): _flat(m.string) for m in mo if m.id}
    written = {_flat(m.id): _flat(m.string) for m in po if m.id and not m.fuzzy}
    assert compiled == written, "run `make i18n` to compile the catalogs"


def test_chinese_has_one_plural_form_and_english_two() -> None:
    one, many = (
        "%(num)d attempt left before sign-in is locked for a while.",
        ("%(num)d attempts left before sign-in is locked for a while."),
    )
    en, zh = translations("en"), translations("zh")
    assert (
        en.ngettext(one, many, 1) % {"num": 1} == "1 attempt left before sign-in is locked "
        "for a while."
    )
    assert (
        en.ngettext(one, many, 2) % {"num": 2} == "2 attempts left before sign-in is "
        "locked for a while."
    )
    assert zh.ngettext(one, many, 1) % {"num": 1} == "还可尝试 1 次，之后将暂时锁定。"
    assert zh.ngettext(one, many, 3) % {"num": 3} == "还可尝试 3 次，之后将暂时锁定。"


def test_times_are_beijing_time_with_the_zone_named() -> None:
    at = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    assert local_time(at, "zh") == "2026年11月24日 10:00 (GMT+08:00)"
    assert local_time(at, "en") == "Nov 24, 2026, 10:00 AM GMT+08:00"
    assert local_time("2026-11-24T23:30:00+08:00", "en") == "Nov 24, 2026, 11:30 PM GMT+08:00"
    assert local_date("2026-12-24", "zh") == "2026年12月24日"
    assert local_date(dt.date(2026, 12, 24), "en") == "Dec 24, 2026"


def test_error_codes_fall_back_to_the_error_catalogue() -> None:
    assert message("REAL_NAME_MISMATCH", "zh") == "机主姓名或证件号码不符"
    assert message("error_QUOTE_EXPIRED", "en").startswith("The quote has expired")
    assert message("no_such_key", "en") == "no_such_key"
    assert message("code_sent", "en", number="138", minutes=5) == (
        "A code was sent to 138; it is valid for 5 minutes."
    )


def test_labels_for_charges_and_routes() -> None:
    assert charge_label("plan_fee_prorated", "zh") == "本月套餐费（按天）"
    assert charge_label("penalty:C-1", "en") == "Penalty C-1"
    original = {"kind": "original", "method": "alipay", "account": "zh***@example.com"}
    assert route_label(original, "zh") == "原路退回 (支付宝 zh***@example.com)"
    assert route_label({"kind": "transfer", "to_msisdn": "13800138001"}, "en") == (
        "My other number 13800138001"
    )


def test_the_sign_in_page_speaks_each_language(client: TestClient) -> None:
    zh = client.get("/?lang=zh").text
    assert '<html lang="zh-CN">' in zh and "获取验证码" in zh and "服务密码" in zh
    en = client.get("/?lang=en").text
    assert '<html lang="en">' in en and "Send code" in en and "Service password" in en
    assert "获取验证码" not in en


@pytest.mark.parametrize(
    ("lang", "after_one", "after_four"),
    [
        ("en", "4 attempts left", "1 attempt left"),
        ("zh", "还可尝试 4 次", "还可尝试 1 次"),
    ],
)
def test_wrong_codes_count_down_in_words_of_the_language(
    client: TestClient, lang: str, after_one: str, after_four: str
) -> None:
    record = add(client)
    token = token_of(client.get(f"/?lang={lang}").text)
    sent = client.post("/sign-in/code", data={"csrf_token": token, "msisdn": record["msisdn"]})
    assert sent.status_code == 200
    wrong = {"csrf_token": token, "msisdn": record["msisdn"], "otp": "999999",
             "service_password": "000000"}  # fmt: skip
    pages = [client.post(f"/sign-in?lang={lang}", data=wrong).text for _ in range(4)]
    assert after_one in pages[0] and "attempt(s)" not in pages[0]
    assert after_four in pages[3]


def test_the_done_page_in_english_gives_times_with_their_zone_and_a_localized_date(
    client: TestClient,
) -> None:
    assert client.put("/api/v1/sandbox/clock", json={"now": NOW}).status_code == 200
    client.get("/lang?to=en&next=/")
    done = client.get(cancel_on_pages(client, add(client, balance=RICH))).text
    closed = re.search(r"<dt>Closed at</dt><dd>([^<]+)</dd>", done)
    assert closed and closed.group(1) == "Nov 24, 2026, 10:00 AM GMT+08:00"
    undo = re.search(r"Until (.+?) you can undo this", done)
    assert undo and re.fullmatch(
        r"[A-Z][a-z]{2} \d{1,2}, 2026, \d{1,2}:\d\d [AP]M GMT\+08:00", undo.group(1)
    )
    quarantine = re.search(r'id="quarantine-until">([^<]+)<', done)
    assert quarantine and re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, 20\d\d", quarantine.group(1))
