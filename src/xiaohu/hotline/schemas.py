"""Shapes of the hotline session (API.md Part 2 "Hotline")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaohu.identity.schemas import Msisdn, SixDigits


class HotlineSessionIn(BaseModel):
    """What the caller reads back to the agent: the code just sent to the line by SMS
    (`POST /api/v1/auth/otp`) and the line's service password."""

    model_config = ConfigDict(extra="forbid")

    msisdn: Msisdn
    otp: SixDigits = Field(description="the 6-digit code the caller reads back")
    service_password: SixDigits = Field(description="the line's 6-digit service password")


class HotlineSessionOut(BaseModel):
    """A line token for this call: the online endpoints with it act for the caller, and
    every event it writes names the agent."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="seconds until the token expires", examples=[1800])
    channel: Literal["hotline"] = "hotline"
    msisdn: str
