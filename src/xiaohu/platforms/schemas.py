"""The platforms' answer bodies and the sandbox route's. (The check's request body is read
by hand, `service.parse_batch`; its documented shape is `api._BODY`.)"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
