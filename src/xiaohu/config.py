"""Settings from the environment (XIAOHU_*).

Built on demand by `get_settings()`, never at import time, so tests and commands can set the
environment first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known key: it makes the sandbox work out of the box and is refused in production.
SANDBOX_SECRET_KEY = "xiaohu-sandbox-key-not-for-production-use-000000"  # noqa: S105 (public on purpose)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOHU_", extra="ignore")

    database_url: str = Field(default="sqlite:///var/xiaohu.db")
    mode: Literal["sandbox", "production"] = "sandbox"
    policy_file: Path | None = None
    secret_key: SecretStr | None = None
    # Which outside systems to talk to. Only the sandbox implementations ship; an operator
    # plugs its own adapter in by dotted path (see notifications/gateway.py, billing/gateway.py).
    sms_gateway: str = "sandbox"
    payment_gateway: str = "sandbox"
    # When the outbox (SMS, provisioning, refund payouts) is handed to the gateways: `inline`
    # right after the request's commit (the sandbox default: a test reads the SMS at once), or
    # `background` by one delivery thread per process, in batches (the production default:
    # the request only wakes it).
    outbox_delivery: Literal["inline", "background"] | None = None
    # A failed delivery waits base × 2^(n-1) seconds (at most the cap) before try n+1; after
    # `outbox_max_attempts` tries it is dead (a refund payout: `failed`, for the operator).
    outbox_max_attempts: int = Field(default=12, ge=1)
    outbox_retry_base_seconds: float = Field(default=2.0, gt=0)
    outbox_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    # The largest request body a route reads (bytes), and the sandbox line import's own.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_import_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0)

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Settings:
        if self.mode == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if not key:
                raise ValueError("XIAOHU_SECRET_KEY must be set when XIAOHU_MODE=production")
            if key == SANDBOX_SECRET_KEY or len(key) < 32:
                raise ValueError(
                    "XIAOHU_SECRET_KEY must be at least 32 characters and not the sandbox key"
                )
        return self

    @property
    def sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def outbox_inline(self) -> bool:
        """Deliver the outbox in the request, after its commit (else: the delivery thread)."""
        if self.outbox_delivery is None:
            return self.sandbox
        return self.outbox_delivery == "inline"

    @property
    def key(self) -> bytes:
        """The master secret; every derived key (PII, blind index, tokens) comes from it."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return SANDBOX_SECRET_KEY.encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
