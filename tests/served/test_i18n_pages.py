"""The installed server speaks from its compiled catalogs: English and Chinese pages, plurals
by the language's rules, and times in Beijing time with the zone named."""

from __future__ import annotations

import re

import pytest

from tests.served.flows import add_line
from tests.served.harness import Served


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.mark.parametrize(
    ("lang", "four_left", "one_left", "locked_until"),
    [
        ("en", "4 attempts left", "1 attempt left", "Nov 24, 2026, 10:30 AM GMT+08:00"),
        ("zh", "还可尝试 4 次", "还可尝试 1 次", "2026年11月24日 10:30 (GMT+08:00)"),
    ],
)
def test_wrong_codes_count_down_then_lock_in_the_language(
    server: Served, lang: str, four_left: str, one_left: str, locked_until: str
) -> None:
    record = add_line(server)
    token = csrf_token(server.http.get(f"/?lang={lang}").text)
    form = {"csrf_token": token, "msisdn": record["msisdn"]}
    assert server.http.post(f"/sign-in/code?lang={lang}", data=form).status_code == 200
    wrong = {**form, "otp": "999999", "service_password": "000000"}
    pages = [server.http.post(f"/sign-in?lang={lang}", data=wrong).text for _ in range(5)]
    assert four_left in pages[0] and "attempt(s)" not in pages[0]
    assert one_left in pages[3]
    until = re.search(r'id="locked-until"[^>]*>([^<]+)<', pages[4])
    assert until, pages[4][-2000:]
    assert until.group(1) == locked_until


def test_the_english_and_chinese_sign_in_pages_say_their_key_words(server: Served) -> None:
    en = server.http.get("/?lang=en").text
    assert '<html lang="en">' in en
    assert all(w in en for w in ("Close my number", "Send code", "Service password"))
    zh = server.http.get("/?lang=zh").text
    assert '<html lang="zh-CN">' in zh
    assert all(w in zh for w in ("自助销户", "获取验证码", "服务密码"))
