"""The store channel's fixtures (the checked API client, the desk of stores and clerks)."""

from tests.counter.conftest import api, desk

__all__ = ["api", "desk"]
