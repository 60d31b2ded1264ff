"""Sign-in request and response bodies. Formats are checked here so a bad field is a 422 that
names it, before any factor is tried (and before a failure is counted)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Msisdn = Annotated[
    str,
    Field(pattern=r"^1[0-9]{10}$", description="11-digit mobile number", examples=["13800138000"]),
]
SixDigits = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["123456"])]


class OtpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: Msisdn


class OtpOut(BaseModel):
    expires_in: int = Field(description="seconds until the code expires", examples=[300])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: Msisdn
    otp: SixDigits = Field(description="the 6-digit code sent by SMS")
    service_password: SixDigits = Field(description="the line's 6-digit service password")


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="seconds until the token expires", examples=[1800])
