"""A payment gateway that fails the way a careless adapter might: with the subscriber's phone
number in its exception. What the served process logs of it must not show the number."""

from __future__ import annotations

from typing import Any


class LeakyPayments:
    def charge(self, amount_fen: int, msisdn: str, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"provider rejected {amount_fen} fen for {msisdn}")

    def refund(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("no payment provider in a test")
