"""Every outside system is chosen by a setting, and an adapter that lacks a method of its
interface is refused at start-up (not at its first message)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.conftest import test_settings
from xiaohu.assembly import ConfigurationError, build_runtime

ADAPTERS = "tests.served.adapters"


@pytest.mark.parametrize(
    ("setting", "field", "missing"),
    [
        ("XIAOHU_SMS_GATEWAY", "sms_gateway", "send()"),
        ("XIAOHU_PROVISIONING_GATEWAY", "provisioning_gateway", "order()"),
        ("XIAOHU_PAYMENT_GATEWAY", "payment_gateway", "charge(), refund()"),
    ],
)
def test_an_adapter_without_its_interface_is_refused(
    engine: Engine, setting: str, field: str, missing: str
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    wrong = f"{ADAPTERS}:OperatorSms" if field != "sms_gateway" else f"{ADAPTERS}:OperatorPayments"
    with pytest.raises(ConfigurationError) as err:
        build_runtime(test_settings(url, **{field: wrong}), engine)
    assert str(err.value).startswith(f"{setting} cannot be loaded")
    assert missing in str(err.value)


def test_each_outside_system_is_the_adapter_its_setting_names(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    rt = build_runtime(
        test_settings(
            url,
            sms_gateway=f"{ADAPTERS}:OperatorSms",
            provisioning_gateway=f"{ADAPTERS}:OperatorProvisioning",
            payment_gateway=f"{ADAPTERS}:OperatorPayments",
        ),
        engine,
    )
    names = [
        type(g).__name__ for g in (rt.sms_gateway, rt.provisioning_gateway, rt.payment_gateway)
    ]
    assert names == ["OperatorSms", "OperatorProvisioning", "OperatorPayments"]
    assert not rt.sandbox_gateways
