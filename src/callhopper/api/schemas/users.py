"""Users and roles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import (
    Body,
    Changes,
    Description,
    Email,
    Identifier,
    Name,
    Password,
    RoleName,
    UserIdText,
)


class UserCreate(Body):
    email: Email
    display_name: Name = ""
    role: RoleName = "agent"
    password: Password | None = Field(None, description="Unset: the user can only use API tokens.")
    user_id: UserIdText | None = Field(None, description="Unset: one is generated.")


class UserUpdate(Changes):
    email: Email | None = None
    display_name: Name | None = None
    role: RoleName | None = None
    password: Password | None = None


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
    name: RoleName
    description: Description = ""
    rights: list[Identifier] | None = Field(None, description="Explicit rights of the role.")
    based_on: RoleName | None = Field(None, description="Start from this role's rights ...")
    without: list[Identifier] = Field(default_factory=list, description="... and drop these.")


class RoleUpdate(Changes):
    description: Description | None = None
    rights: list[Identifier] | None = None


class RolePublic(BaseModel):
    name: str
    description: str
    builtin: bool
    rights: list[str]
