"""Users and roles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import Body

LANGUAGE_HELP = "The pages' language (`en` or `ja`); unset: the browser's languages."


class UserCreate(Body):
    email: str
    display_name: str = ""
    role: str = "agent"
    password: str | None = Field(None, description="Unset: the user can only use API tokens.")
    user_id: str | None = Field(None, description="Unset: one is generated.")
    language: str | None = Field(None, description=LANGUAGE_HELP)


class UsersImported(BaseModel):
    created: int = Field(description="How many users the file created.")
    user_ids: list[str] = Field(description="Their user ids, in the file's order.")


class UserUpdate(Body):
    email: str | None = None
    display_name: str | None = None
    role: str | None = None
    password: str | None = None
    language: str | None = Field(None, description=LANGUAGE_HELP)


class UserPublic(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    language: str | None
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


class RoleUpdate(Body):
    description: str | None = None
    rights: list[str] | None = None


class RolePublic(BaseModel):
    name: str
    description: str
    builtin: bool
    rights: list[str]
