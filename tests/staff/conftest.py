"""API tests here run at the factories' time (see `tests.clocked_api`)."""

from tests.clocked_api import api  # noqa: F401 (the fixture, shared with the other area)
