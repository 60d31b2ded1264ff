"""The message catalogue: both languages say everything the templates ask for."""

from __future__ import annotations

import re
from pathlib import Path

from xiaohu.web.i18n import EN, ZH, charge_label, route_label, translator

TEMPLATES = Path(__file__).parents[2] / "src" / "xiaohu" / "web" / "templates"


def test_both_languages_have_the_same_keys() -> None:
    assert set(ZH) - set(EN) == set()
    assert set(EN) - set(ZH) == set()


def test_every_literal_key_in_the_templates_is_translated() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'\s*[,)]", template.read_text()))
    assert used, "no keys found: the pattern no longer matches the templates"
    assert sorted(used - set(ZH)) == []


def test_placeholders_match_between_languages() -> None:
    for key, zh in ZH.items():
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", EN[key])), key


def test_error_codes_fall_back_to_the_error_catalogue() -> None:
    assert translator("zh")("REAL_NAME_MISMATCH") == "机主姓名或证件号码不符"
    assert translator("en")("error_QUOTE_EXPIRED").startswith("The quote has expired")
    assert translator("en")("no_such_key") == "no_such_key"


def test_labels_for_charges_and_routes() -> None:
    assert charge_label("plan_fee_prorated", "zh") == "本月套餐费（按天）"
    assert charge_label("penalty:C-1", "en") == "Penalty C-1"
    original = {"kind": "original", "method": "alipay", "account": "zh***@example.com"}
    assert route_label(original, "zh") == "原路退回 (支付宝 zh***@example.com)"
    assert route_label({"kind": "transfer", "to_msisdn": "13800138001"}, "en") == (
        "My other number 13800138001"
    )
