"""Queues and skills."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Changes


class QueueCreate(Body):
    name: str
    description: str = ""


class QueueUpdate(Changes):
    name: str | None = None
    description: str | None = None


class QueuePublic(BaseModel):
    id: int
    name: str
    description: str
    member_user_ids: list[str]


class UserIds(Body):
    user_ids: list[str] = Field(min_length=1)


class SkillCreate(Body):
    name: str
    expression: str = Field(
        description='A lead filter, e.g. state == "AZ" or state in ("CA", "NV")'
    )
    description: str = ""


class SkillUpdate(Changes):
    name: str | None = None
    expression: str | None = None
    description: str | None = None


class SkillPublic(BaseModel):
    id: int
    name: str
    expression: str
    description: str
    filter: dict[str, Any] = Field(description="The expression as AND-groups joined by OR.")
