"""Netting rules: both methods clear every province's net, within the bound, exact ≤ greedy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xiaohu.settlement import rules
from xiaohu.settlement.rules import Transfer

PROVINCES = [f"{c}" for c in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34)]

dues_strategy = st.dictionaries(
    st.tuples(st.sampled_from(PROVINCES), st.sampled_from(PROVINCES)).filter(
        lambda pair: pair[0] != pair[1]
    ),
    st.one_of(st.integers(1, 50), st.integers(1, 10**9)),  # small amounts make zero-sum parts
    max_size=40,
)


def check_clears(net: dict[str, int], transfers: list[Transfer]) -> None:
    assert rules.applied(transfers) == net
    assert all(t.amount_fen > 0 and t.payer != t.receiver for t in transfers)


@settings(max_examples=200, deadline=None)
@given(dues=dues_strategy)
def test_greedy_clears_every_net_within_the_bound(dues: dict[tuple[str, str], int]) -> None:
    net = rules.nets(dues)
    transfers = rules.greedy(net)
    check_clears(net, transfers)
    assert len(transfers) <= rules.transfer_bound(net)
    assert sum(net.values()) == 0
    assert sum(s.net_fen for s in rules.statements(dues)) == 0
    assert sum(s.receivable_fen for s in rules.statements(dues)) == sum(dues.values())


@settings(max_examples=60, deadline=None)
@given(dues=dues_strategy)
def test_exact_clears_every_net_with_no_more_transfers(dues: dict[tuple[str, str], int]) -> None:
    netting = rules.settle(dues, seconds=2, workers=2)
    net = rules.nets(dues)
    check_clears(net, netting.transfers)
    assert len(netting.transfers) <= netting.greedy_transfers <= rules.transfer_bound(net)
    assert netting.exact_transfers is None or netting.exact_transfers <= netting.greedy_transfers
    assert netting.greedy_transfers == len(rules.greedy(net))
    if netting.method == "greedy":
        assert not netting.optimal
    # A proved minimum is at least the least count any split into zero-sum groups allows.
    groups = rules.zero_sum_groups(list(net.values())) if net else []
    if netting.optimal:
        assert len(netting.transfers) <= len(net) - len(groups)


def test_exact_beats_greedy_and_says_so() -> None:
    net = {"11": -6, "12": -5, "13": 8, "14": -9, "15": 3, "21": -7, "22": 16}
    dues = {(p, "31"): -n for p, n in net.items() if n < 0} | {
        ("31", p): n for p, n in net.items() if n > 0
    }
    assert rules.nets(dues) == net
    netting = rules.settle(dues, seconds=5, workers=2)
    assert netting.greedy_transfers == 6
    assert (netting.method, netting.optimal, len(netting.transfers)) == ("exact", True, 5)
    assert netting.solver_status == "OPTIMAL"
    check_clears(net, netting.transfers)


def test_pairs_inside_triples_need_the_solver() -> None:
    # Splitting finds the two triples; only the search finds the three pairs inside them.
    net = {"11": 1, "12": 2, "13": -3, "14": -1, "15": -2, "21": 3}
    found, status = rules.exact(net, seconds=5, workers=2)
    assert found is not None and status == "OPTIMAL"
    assert len(found) == 3
    check_clears(net, found)


def test_no_zero_sum_part_is_proved_without_a_search() -> None:
    net = {"11": 1000, "12": 2001, "13": -3001 + 7, "14": -7}
    assert rules.zero_sum_part(list(net.values())) is None
    found, status = rules.exact(net, seconds=5)
    assert status == rules.PROVED_BY_SUBSETS and found is not None and len(found) == 3
    netting = rules.settle({("13", "11"): 1000, ("13", "12"): 1994, ("14", "12"): 7}, seconds=1)
    assert (netting.method, netting.optimal) == ("exact", True)


def test_nothing_owed_needs_no_transfer() -> None:
    netting = rules.settle({("11", "12"): 500, ("12", "11"): 500}, seconds=1)
    assert netting.transfers == [] and netting.optimal and netting.bound == 0


def test_a_province_cannot_owe_itself() -> None:
    with pytest.raises(ValueError, match="itself"):
        rules.nets({("11", "11"): 5})
