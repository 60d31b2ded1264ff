"""Netting the dues between provinces into transfers, without a database.

The dues of a month form a matrix: `dues[(P, H)]` is what province P owes province H. Only each
province's net matters for the transfers (what it is owed less what it owes); the nets sum to
zero. Any set of transfers that leaves every net at zero clears the month.

Two methods:
- **greedy** (fast, always used first): provinces whose nets cancel exactly pair off, then the
  largest payer pays the largest receiver the smaller of the two, until every net is zero. Each
  transfer zeroes at least one province and the last zeroes two, so it never needs more than
  (provinces with a non-zero net − 1) transfers.
- **exact** (OR-Tools CP-SAT, within a time limit): the fewest transfers is the number of
  provinces with a non-zero net less the largest number of groups of them whose nets each sum
  to zero (each group is settled inside itself with one transfer fewer than it has members).
  The solver looks for the most such groups; each group is then settled by the greedy method.

The answer says which method's transfers it holds, and whether the solver proved the count
minimal.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Dues = Mapping[tuple[str, str], int]  # (payer, receiver) -> fen owed in the period


@dataclass(frozen=True)
class Transfer:
    payer: str
    receiver: str
    amount_fen: int

    def as_json(self) -> dict[str, object]:
        return {"from": self.payer, "to": self.receiver, "amount_fen": self.amount_fen}


@dataclass(frozen=True)
class Statement:
    """A province's side of the month: its gross dues both ways and the net."""

    province_code: str
    receivable_fen: int  # what the others owe it
    payable_fen: int  # what it owes the others

    @property
    def net_fen(self) -> int:
        return self.receivable_fen - self.payable_fen

    def as_json(self) -> dict[str, object]:
        return {
            "province_code": self.province_code,
            "receivable_fen": self.receivable_fen,
            "payable_fen": self.payable_fen,
            "net_fen": self.net_fen,
        }


@dataclass(frozen=True)
class Netting:
    """The transfers that clear a month, and how they were found."""

    transfers: list[Transfer]
    method: str  # "exact" | "greedy": whose transfers these are
    optimal: bool  # the solver proved no fewer transfers clear the month
    greedy_transfers: int
    exact_transfers: int | None  # None: the solver found no answer in its time
    solver_status: str  # CP-SAT's status name, or why it did not run
    bound: int = field(default=0)  # provinces with a non-zero net − 1 (0 when none)


def statements(dues: Dues) -> list[Statement]:
    """Each province's receivable and payable, in province order (only those with a due)."""
    receivable: dict[str, int] = defaultdict(int)
    payable: dict[str, int] = defaultdict(int)
    for (payer, receiver), amount in dues.items():
        payable[payer] += amount
        receivable[receiver] += amount
    codes = sorted(set(receivable) | set(payable))
    return [Statement(p, receivable[p], payable[p]) for p in codes]


def nets(dues: Dues) -> dict[str, int]:
    """Each province's net (positive: it receives); provinces at zero left out."""
    out: dict[str, int] = defaultdict(int)
    for (payer, receiver), amount in dues.items():
        if payer == receiver:
            raise ValueError(f"a province cannot owe itself ({payer})")
        out[payer] -= amount
        out[receiver] += amount
    return {p: n for p, n in sorted(out.items()) if n}


def transfer_bound(net: Mapping[str, int]) -> int:
    """The most transfers the greedy method may need: non-zero nets − 1."""
    count = sum(1 for n in net.values() if n)
    return max(0, count - 1)


def greedy(net: Mapping[str, int]) -> list[Transfer]:
    """Transfers that zero every net, at most `transfer_bound(net)` of them."""
    if sum(net.values()) != 0:
        raise ValueError("the nets of a month must sum to zero")
    left = {p: n for p, n in net.items() if n}
    out: list[Transfer] = []
    # Exact opposites first: one transfer settles both, where the largest-first rule might
    # split them across two.
    by_amount: dict[int, list[str]] = defaultdict(list)
    for p in sorted(left):
        if left[p] > 0:
            by_amount[left[p]].append(p)
    for payer in sorted(left):
        owed = -left[payer]
        if owed > 0 and by_amount.get(owed):
            receiver = by_amount[owed].pop(0)
            out.append(Transfer(payer, receiver, owed))
            left[payer] = left[receiver] = 0
    while True:
        payers = [p for p in left if left[p] < 0]
        receivers = [p for p in left if left[p] > 0]
        if not payers:
            break
        payer = min(payers, key=lambda p: (left[p], p))  # the most negative
        receiver = max(receivers, key=lambda p: (left[p], [-ord(c) for c in p]))
        amount = min(-left[payer], left[receiver])
        out.append(Transfer(payer, receiver, amount))
        left[payer] += amount
        left[receiver] -= amount
    return out


# A proper part of the nets that sums to zero is found by meet in the middle (2^16 sums a side
# for 31 provinces, a tenth of a second). With none, the only group is all of them: the bound is
# the minimum, proved without a search. With some, splitting again and again gives groups the
# solver starts from; it may find more (three pairs inside two triples), and it proves the count.
SUBSET_CHECK_MAX = 36
PROVED_BY_SUBSETS = "OPTIMAL_NO_ZERO_SUM_PART"
OPTIMAL = ("OPTIMAL", PROVED_BY_SUBSETS)


def _subset_sums(values: list[int]) -> list[tuple[int, int]]:
    """(sum, mask) of every subset of `values`."""
    out = [(0, 0)]
    for i, v in enumerate(values):
        out += [(s + v, m | 1 << i) for s, m in out]
    return out


def zero_sum_part(values: list[int]) -> list[int] | None:
    """Indices of a non-empty subset other than the whole list that sums to zero, or None (the
    whole list sums to zero: the nets of a month, or a group of them)."""
    half = len(values) // 2
    left, right = values[:half], values[half:]
    full_left, full_right = (1 << len(left)) - 1, (1 << len(right)) - 1
    masks: dict[int, list[int]] = defaultdict(list)
    for s, m in _subset_sums(left):
        if len(masks[s]) < 3:
            masks[s].append(m)
    for s, mr in _subset_sums(right):
        for ml in masks.get(-s, ()):
            if (ml, mr) != (0, 0) and (ml, mr) != (full_left, full_right):
                mask = ml | mr << half
                return [i for i in range(len(values)) if mask >> i & 1]
    return None


def zero_sum_groups(values: list[int]) -> list[list[int]]:
    """The list split, part by part, into groups that each sum to zero (indices)."""
    todo, done = [list(range(len(values)))], []
    while todo:
        group = todo.pop()
        part = zero_sum_part([values[i] for i in group])
        if part is None:
            done.append(group)
            continue
        inside = {group[i] for i in part}
        todo += [sorted(inside), [i for i in group if i not in inside]]
    return sorted(done)


def exact(
    net: Mapping[str, int], *, seconds: float, workers: int = 8, split: bool = True
) -> tuple[list[Transfer] | None, str]:
    """The fewest transfers, by CP-SAT within `seconds` (OR-Tools loaded already: its first
    import takes a few seconds of its own): (transfers or None, status name).
    The status is OPTIMAL when the solver proved the count minimal (or OPTIMAL_NO_ZERO_SUM_PART
    when no part of the nets sums to zero, so the bound is the minimum without a search),
    FEASIBLE when the time ran out with an answer that may not be minimal. `split=False`
    leaves the search to the solver alone (to measure it)."""
    from ortools.sat.python import cp_model

    # The limit covers the split below as well as the search: a compute budget, not a business
    # time, so it is read from the process's monotonic timer rather than the clock.
    deadline = time.perf_counter() + seconds
    codes = [p for p in sorted(net) if net[p]]
    if not codes:
        return [], "OPTIMAL"
    if sum(net[p] for p in codes) != 0:
        raise ValueError("the nets of a month must sum to zero")
    start = [list(range(len(codes)))]
    if split and len(codes) <= SUBSET_CHECK_MAX:
        start = zero_sum_groups([net[p] for p in codes])
        if len(start) == 1:
            return greedy(net), PROVED_BY_SUBSETS
    positives = sum(1 for p in codes if net[p] > 0)
    groups = min(positives, len(codes) - positives)  # each group needs both signs
    model = cp_model.CpModel()
    member = {
        (i, g): model.new_bool_var(f"x{i}_{g}")
        for i in range(len(codes))
        for g in range(min(i + 1, groups))  # symmetry: province i opens group ≤ i
    }
    used = [model.new_bool_var(f"used{g}") for g in range(groups)]
    for i in range(len(codes)):
        model.add_exactly_one(member[i, g] for g in range(min(i + 1, groups)))
    for g in range(groups):
        in_g = [(i, member[i, g]) for i in range(len(codes)) if (i, g) in member]
        model.add(sum(net[codes[i]] * x for i, x in in_g) == 0)
        model.add(sum(x for _, x in in_g) >= 2).only_enforce_if(used[g])
        model.add(sum(x for _, x in in_g) == 0).only_enforce_if(~used[g])
        if g:
            model.add_implication(used[g], used[g - 1])
    model.maximize(sum(used))
    # Start from the groups found by splitting (sorted by their first province, as the
    # symmetry rule above asks), so a timeout still has an answer at least as good.
    group_of = {i: g for g, members in enumerate(start) for i in members}
    for (i, g), x in member.items():
        model.add_hint(x, group_of[i] == g)
    for g, u in enumerate(used):
        model.add_hint(u, g < len(start))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.perf_counter())
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, name
    out: list[Transfer] = []
    for g in range(groups):
        chosen = [i for (i, h), x in member.items() if h == g and solver.value(x)]
        group = {codes[i]: net[codes[i]] for i in chosen}
        out.extend(greedy(group))
    return out, name


def net_out(dues: Dues) -> Netting:
    """The greedy answer alone (the exact method not asked for)."""
    net = nets(dues)
    transfers = greedy(net)
    return Netting(transfers, "greedy", False, len(transfers), None, "NOT_RUN", transfer_bound(net))


def settle(dues: Dues, *, seconds: float, workers: int = 8) -> Netting:
    """Greedy first; then the exact method, whose transfers are kept when they are fewer or
    when it proved its count minimal (then the greedy count is minimal too, and the exact
    answer says so)."""
    net = nets(dues)
    fast = greedy(net)
    found, status = exact(net, seconds=seconds, workers=workers)
    bound = transfer_bound(net)
    if found is None:
        return Netting(fast, "greedy", False, len(fast), None, status, bound)
    proved = status in OPTIMAL
    if len(found) < len(fast) or (proved and len(found) == len(fast)):
        return Netting(found, "exact", proved, len(fast), len(found), status, bound)
    return Netting(fast, "greedy", False, len(fast), len(found), status, bound)


def applied(transfers: Iterable[Transfer]) -> dict[str, int]:
    """What the transfers move per province (positive: it receives); for checks."""
    out: dict[str, int] = defaultdict(int)
    for t in transfers:
        out[t.payer] -= t.amount_fen
        out[t.receiver] += t.amount_fen
    return {p: n for p, n in sorted(out.items()) if n}
