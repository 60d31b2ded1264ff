"""Sign-in request and response bodies. Formats are checked here so a bad field is a 422 that
names it, before any factor is tried (and before a failure is counted)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

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


# "otp, or reference and id_number, not both" (`_one_way_in`), said in the document too.
def _given(*names: str) -> JsonDict:
    """Each of `names` present and not null (an explicit null counts as left out)."""
    return {"required": list(names), "properties": {n: {"type": "string"} for n in names}}


_ONE_WAY_IN: JsonDict = {
    "oneOf": [
        {**_given("otp"), "not": {"anyOf": [_given("reference"), _given("id_number")]}},
        {**_given("reference", "id_number"), "not": _given("otp")},
    ]
}


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_WAY_IN)

    msisdn: Msisdn
    otp: SixDigits | None = Field(None, description="the 6-digit code sent by SMS")
    service_password: SixDigits = Field(description="the line's 6-digit service password")
    # A cancelled number receives no SMS: its latest cancellation's reference and the owner's
    # ID number take the place of the code.
    reference: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2}-[0-9]{2}-[0-9]{8}-[A-Za-z0-9]{6}$",
        description="a cancelled number's cancellation reference, instead of `otp`",
        examples=["XH-44-20261124-7KQ2M9"],
    )
    id_number: str | None = Field(
        None,
        min_length=5,
        max_length=30,
        description="the owner's ID number, with `reference`",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> TokenIn:
        if self.otp is not None and (self.reference is not None or self.id_number is not None):
            raise ValueError("give either `otp`, or `reference` and `id_number`, not both")
        if self.otp is None and (self.reference is None or self.id_number is None):
            raise ValueError(
                "give `otp` (the SMS code), or for a cancelled number `reference` and `id_number`"
            )
        return self


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="seconds until the token expires", examples=[1800])
