"""The platforms' request and answer bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RecycledQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(examples=["13800138000"], description="11 digits")
    bound_since: str = Field(
        examples=["2024-03-01"],
        description="YYYY-MM-DD (Asia/Shanghai): the day the platform's account was bound",
    )


class RecycledCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[RecycledQuery] = Field(
        description="1 to 1,000 queries; more: 422 TOO_MANY_QUERIES"
    )


class RecycledResult(BaseModel):
    msisdn: str
    changed: bool = Field(
        description="cancelled (not reversed, not reclaimed by its owner) on or after "
        "`bound_since`: the account bound to it belongs to someone else now"
    )


class RecycledCheckOut(BaseModel):
    results: list[RecycledResult]


class SandboxPlatformIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    requests_per_minute: int | None = Field(
        None, ge=1, le=100_000, description="sandbox only: the platform's own rate"
    )


class SandboxPlatformOut(BaseModel):
    api_key: str = Field(description="shown once; only its keyed hash is stored")
    name: str
    key_hint: str
