"""Queues and skills."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Changes, Description, FilterText, Name, UserIdText


class QueueCreate(Body):
    name: Name
    description: Description = ""


class QueueUpdate(Changes):
    name: Name | None = None
    description: Description | None = None


class QueuePublic(BaseModel):
    id: int
    name: str
    description: str
    member_user_ids: list[str]


class UserIds(Body):
    user_ids: list[UserIdText] = Field(min_length=1)


class SkillCreate(Body):
    name: Name
    expression: FilterText = Field(
        description='A lead filter, e.g. state == "AZ" or state in ("CA", "NV")'
    )
    description: Description = ""


class SkillUpdate(Changes):
    name: Name | None = None
    expression: FilterText | None = None
    description: Description | None = None


class SkillPublic(BaseModel):
    id: int
    name: str
    expression: str
    description: str
    filter: dict[str, Any] = Field(description="The expression as AND-groups joined by OR.")
