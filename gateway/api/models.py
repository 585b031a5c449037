"""Request bodies of the API; their JSON Schemas go into the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from routing.config import Grant
from routing.types import ESCALATIONS

# Ids as the OpenAPI document describes them (gateway.api.openapi uses the same patterns).
SLUG = r"^[a-z0-9][a-z0-9_-]{0,39}$"
CONTACT_ID = r"^(c[0-9]{1,18}|\+[1-9][0-9]{6,14})$"
ContactRef = Annotated[str, Field(pattern=CONTACT_ID)]
AgentId = Annotated[str, Field(pattern=SLUG)]


class _Body(BaseModel):
    # strict: `true` is not a capacity of 1, `"5"` is not 5, `1` is not a string
    model_config = ConfigDict(extra="forbid", strict=True)


def _needs_id(types: list[str]) -> dict:
    """The cross-field rule of Owner and Target, said in JSON Schema: these types need an id."""
    return {"if": {"properties": {"type": {"enum": types}}, "required": ["type"]},
            "then": {"properties": {"id": {"type": "string", "minLength": 1}},
                     "required": ["id"]}}


class Owner(_Body):
    model_config = ConfigDict(json_schema_extra={
        **_needs_id(["agent", "department"]),
        "else": {"properties": {"id": {"type": "string", "maxLength": 0}}}})

    type: Literal["agent", "department", "unassigned"]
    id: str = Field("", description="agent id, or campaign/department; empty for unassigned")

    @model_validator(mode="after")
    def _id(self) -> Owner:
        if self.type != "unassigned" and not self.id:
            raise ValueError(f"an owner of type {self.type} needs an id")
        if self.type == "unassigned" and self.id:
            raise ValueError("an unassigned owner takes no id")
        return self


class BulkOwner(_Body):
    contacts: list[ContactRef] = Field(min_length=1, max_length=1000,
                                       description="contact ids (c12) or E.164 phones")
    owner: Owner


class Exclusive(_Body):
    agent: AgentId


class Presence(_Body):
    presence: Literal["online", "away", "offline"]


class Capacity(_Body):
    model_config = ConfigDict(strict=False)  # 5.0 is an integer in JSON Schema; see below

    capacity: int = Field(ge=0, le=1000)

    @field_validator("capacity", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be an integer (not a string or a boolean)")
        return value


class Message(_Body):
    text: str = Field(min_length=1, max_length=1600)


class Target(_Body):
    model_config = ConfigDict(json_schema_extra=_needs_id(["agent", "department"]))

    type: Literal["agent", "department", "route"]
    id: str = ""

    @model_validator(mode="after")
    def _id(self) -> Target:
        if self.type != "route" and not self.id:
            raise ValueError(f"a {self.type} target needs an id")
        return self


class Handoff(_Body):
    target: Target
    escalation: Literal[tuple(ESCALATIONS)] | None = None  # type: ignore[valid-type]
    note: str = Field("", max_length=2000)


class Escalate(_Body):
    type: Literal[tuple(ESCALATIONS)]  # type: ignore[valid-type]
    note: str = Field("", max_length=2000)


class Close(_Body):
    typification: str = ""
    subtypification: str = ""
    note: str = Field("", max_length=2000)


class Grants(_Body):
    grants: list[Grant] = Field(max_length=5)


class BulkGrants(_Body):
    agents: list[AgentId] = Field(min_length=1, max_length=1000)
    campaign: Annotated[str, Field(pattern=SLUG)]
    grants: list[Grant] = Field(max_length=5)
