"""Invariants are raised explicitly: `python -O` strips `assert`, and money checks with it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import xiaohu

SRC = Path(xiaohu.__file__).parent


def test_no_assert_statements_guard_the_service() -> None:
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


CHECKS = """
import sys
from xiaohu.billing.rules import FinalBill, require_adds_up
from xiaohu.kit.errors import InvariantViolated
from xiaohu.ledger.rules import UnbalancedTransaction, check_balanced, credit, debit

assert False, "asserts run: this is not python -O"  # noqa: B011 (the point of the test)
"""
PROBES = """
try:
    check_balanced([debit("subscriber_cash:11", 100), credit("gateway_clearing", 99)])
except UnbalancedTransaction as exc:
    print("ledger:", type(exc).__name__, isinstance(exc, InvariantViolated))
bill = FinalBill((), 1000, 0, 300, 0, 0, 0, 300, 700, 0, 100, 500)  # 100 fen unaccounted for
try:
    require_adds_up(1000, 0, bill)
except InvariantViolated as exc:
    print("quote:", type(exc).__name__)
print("optimize:", sys.flags.optimize)
"""


def test_the_ledger_and_quote_checks_still_raise_under_python_dash_o() -> None:
    done = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-O", "-c", CHECKS + PROBES], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ledger: UnbalancedTransaction True",
        "quote: InvariantViolated",
        "optimize: 1",
    ]
