"""Money is an int of fen (分). One rounding rule, half-up to the fen, for the few divisions."""

from __future__ import annotations

Fen = int


def div_half_up(numerator: int, denominator: int) -> Fen:
    """numerator / denominator rounded half-up (away from zero for halves), exactly."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def percent_of(amount: Fen, percent: int) -> Fen:
    """`percent`% of `amount`, rounded half-up to the fen."""
    return div_half_up(amount * percent, 100)


def yuan(amount: Fen) -> str:
    """'¥12.34' for display; negative amounts keep their sign."""
    sign = "-" if amount < 0 else ""
    whole, fen = divmod(abs(amount), 100)
    return f"{sign}¥{whole:,}.{fen:02d}"


def plain_yuan(amount: Fen) -> str:
    """'1234.56': yuan for a form field to be typed over (no symbol, no grouping)."""
    sign = "-" if amount < 0 else ""
    whole, fen = divmod(abs(amount), 100)
    return f"{sign}{whole}.{fen:02d}"
