"""Stand-ins for an operator's adapters (`module:Class` settings): not sandbox classes, so a
test can select them where production must not see a sandbox gateway."""

from __future__ import annotations

from typing import Any


class OperatorSms:
    def send(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("no SMS centre in a test")


class OperatorPayments:
    def charge(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("no payment provider in a test")

    def refund(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("no payment provider in a test")


class OperatorProvisioning:
    def order(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("no provisioning system in a test")
