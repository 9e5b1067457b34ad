"""Users and roles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import Body, Changes


class UserCreate(Body):
    email: str
    display_name: str = ""
    role: str = "agent"
    password: str | None = Field(None, description="Unset: the user can only use API tokens.")
    user_id: str | None = Field(None, description="Unset: one is generated.")


class UserUpdate(Changes):
    email: str | None = None
    display_name: str | None = None
    role: str | None = None
    password: str | None = None


class UserPublic(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    skill_ids: list[int]
    queue_ids: list[int]


class SkillIds(Body):
    skill_ids: list[IntId]


class RoleCreate(Body):
    name: str
    description: str = ""
    rights: list[str] | None = Field(None, description="Explicit rights of the role.")
    based_on: str | None = Field(None, description="Start from this role's rights ...")
    without: list[str] = Field(default_factory=list, description="... and drop these.")


class RoleUpdate(Changes):
    description: str | None = None
    rights: list[str] | None = None


class RolePublic(BaseModel):
    name: str
    description: str
    builtin: bool
    rights: list[str]
