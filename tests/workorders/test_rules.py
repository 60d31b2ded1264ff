"""Which blockers the home province's back office decides, by policy; the cross-region trigger."""

from __future__ import annotations

from xiaohu.cancellation.rules import Notice
from xiaohu.policy.schema import Values
from xiaohu.workorders.rules import Trigger, review, review_json

FRAUD = Notice("ABNORMAL_STATE", "zh", "en", details={"state": "fraud_stop"})
FROZEN = Notice("ABNORMAL_STATE", "zh", "en", details={"state": "judicial_freeze"})
LIFETIME = Notice("PREMIUM_MIN_SPEND", "zh", "en", details={"lifetime": True})
TERM = Notice("PREMIUM_MIN_SPEND", "zh", "en", amount_fen=100, details={"lifetime": False})
ARREARS = Notice("ARREARS", "zh", "en", amount_fen=100)


def test_fraud_stop_and_lifetime_term_are_reviewed_the_rest_still_blocks() -> None:
    r = review([ARREARS, FRAUD, LIFETIME, FROZEN, TERM], Values(), "11", "11")
    assert r.triggers == (Trigger.FRAUD_STOP, Trigger.LIFETIME_TERM)
    assert [b for b in r.blockers] == [ARREARS, FROZEN, TERM]
    assert r.required


def test_policy_can_keep_them_blockers() -> None:
    values = Values(review_fraud_stop=False, review_lifetime_term=False)
    r = review([FRAUD, LIFETIME], values, "11", "11")
    assert r.triggers == () and r.blockers == [FRAUD, LIFETIME] and not r.required


def test_cross_region_only_where_the_home_province_asks() -> None:
    assert review([], Values(), "32", "44").triggers == ()
    asks = Values(review_cross_region=True)
    assert review([], asks, "32", "44").triggers == (Trigger.CROSS_REGION,)
    assert review([], asks, "32", "32").triggers == ()


def test_the_json_blockers_of_a_check_split_the_same_way() -> None:
    blockers = [FRAUD.as_dict(), ARREARS.as_dict()]
    r = review_json(blockers, Values(), "11", "11")
    assert r.triggers == (Trigger.FRAUD_STOP,)
    assert [b["code"] for b in r.blockers] == ["ARREARS"]
