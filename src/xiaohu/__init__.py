"""xiaohu (销户): an operator's number cancellation service."""

__version__ = "0.1.0"
