"""Settings from the environment (XIAOHU_*).

Built on demand by `get_settings()`, never at import time, so tests and commands can set the
environment first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known key: it makes the sandbox work out of the box and is refused in production.
SANDBOX_SECRET_KEY = "xiaohu-sandbox-key-not-for-production-use-000000"  # noqa: S105 (public on purpose)
# Production limits per client IP: (code requests, token attempts). A household or an office
# behind one address still signs in; a script asking codes for a block of numbers does not.
DEFAULT_LIMITS = ("10/minute;60/hour", "30/minute")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOHU_", extra="ignore")

    database_url: str = Field(default="sqlite:///var/xiaohu.db")
    # A national deployment: the node map file (`xiaohu.nodemap`) naming each node's database
    # and provinces and the broker between them. Unset: one node on `database_url`.
    node_map: Path | None = None
    # A served process of a national deployment runs the broker's relay and consumer threads;
    # false for a process that only serves requests while `xiaohu consume` moves the messages.
    broker_threads: bool = True
    mode: Literal["sandbox", "production"] = "sandbox"
    policy_file: Path | None = None
    secret_key: SecretStr | None = None
    # Which outside systems to talk to. Only the sandbox implementations ship; an operator
    # plugs its own adapter in by dotted path (see notifications/gateway.py, billing/gateway.py).
    sms_gateway: str = "sandbox"
    payment_gateway: str = "sandbox"
    provisioning_gateway: str = "sandbox"
    # Production refuses sandbox gateways (they only pretend to send, pay and provision) unless
    # this loud switch says the system is a staging one (`runtime.check_gateways`).
    allow_sandbox_gateways: bool = False
    # The operator credential for /api/v1/admin/... until staff sign-in exists: required in
    # production (`Authorization: Bearer <token>`); the sandbox admin routes stay open.
    admin_token: SecretStr | None = None
    # Per-client (IP) limits on sign-in, in the `limits` notation ("10/minute;60/hour"); the
    # defaults depend on the mode (`client_limits`): a sandbox is driven by test suites from
    # one address, so its limits are wide.
    otp_client_limit: str | None = None
    token_client_limit: str | None = None
    # Where the platforms' per-minute counters live (`platforms.limits`): empty, this process's
    # memory; a `limits` storage URI (`redis://host:6379/0`) to share them between processes.
    rate_limit_storage: str | None = None
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
    max_import_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)  # the CLI takes big files
    # Log lines: `json` (one object a line, for a collector) or `console` (for a person); the
    # default follows the mode (`log_renderer`). Phone and ID numbers are masked in either.
    log_format: Literal["json", "console"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The refusal notice (拒绝销户告知书): its signing certificate and key as a PKCS#12 file,
    # and where a subscriber complains. Without a certificate the notice is signed with a key
    # derived from the secret key under a self-signed certificate (`kit.signing`); production
    # starts so, with a warning.
    notice_cert: Path | None = None
    notice_cert_password: SecretStr | None = None
    operator_name: str = "xiaohu 沙箱运营商"  # the sandbox operator
    operator_service_phone: str = "10086"  # the operator's customer service number
    # Monthly settlement: how long the exact netting (CP-SAT) may search before the run keeps
    # the best answer found, or the fast method's (seconds), and with how many threads.
    settlement_solver_seconds: float = Field(default=5.0, gt=0, le=600)
    settlement_solver_workers: int = Field(default=8, ge=1, le=64)

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

    @field_validator(
        "admin_token",
        "node_map",
        "otp_client_limit",
        "token_client_limit",
        "log_format",
        "notice_cert",
        "notice_cert_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("otp_client_limit", "token_client_limit")
    @classmethod
    def _limits_parse(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"not a rate limit like '10/minute;60/hour': {exc}") from exc
        return value

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
    def log_renderer(self) -> Literal["json", "console"]:
        """JSON lines in production, readable lines in the sandbox, unless set."""
        if self.log_format is None:
            return "console" if self.sandbox else "json"
        return self.log_format

    def admin_problem(self) -> str | None:
        """Why production cannot start with this admin credential (None: it can). Checked at
        start-up (`assembly.build_runtime`) rather than here, so a Settings object for a test
        or a command that serves nothing needs no admin token."""
        admin = self.admin_token.get_secret_value() if self.admin_token else ""
        if self.sandbox or len(admin) >= 32:
            return None
        return (
            "XIAOHU_ADMIN_TOKEN must be set (at least 32 characters) when "
            "XIAOHU_MODE=production: it guards /api/v1/admin/..."
        )

    def client_limits(self) -> tuple[str, str]:
        """(code requests, token attempts) allowed per client IP."""
        otp, token = ("120/minute;2000/hour", "240/minute") if self.sandbox else DEFAULT_LIMITS
        return self.otp_client_limit or otp, self.token_client_limit or token

    @property
    def key(self) -> bytes:
        """The master secret; every derived key (PII, blind index, tokens) comes from it."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return SANDBOX_SECRET_KEY.encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
