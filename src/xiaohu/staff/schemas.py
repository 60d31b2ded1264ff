"""Staff sign-in bodies. The login's format is checked here (a 422 naming the field); the
password's only by the sign-in, so a wrong one is always the same 401."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StaffTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=40, examples=["gz.wang"])
    password: str = Field(min_length=1, max_length=128, examples=["counter-pass-2026"])


class StaffTokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="seconds until the token expires", examples=[28800])
    role: str = Field(examples=["clerk"], description="clerk | hotline_agent | backoffice | admin")
    province_code: str = Field(examples=["44"])
    store_code: str | None = Field(examples=["44-GZ-0001"], description="a clerk's store")
    login: str = Field(examples=["gz.wang"])
    name: str = Field(examples=["王五"])
