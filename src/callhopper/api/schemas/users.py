"""Users and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
from callhopper.domain.limits import MAX_LANGUAGE_CODE_LENGTH

LANGUAGE_HELP = "The pages' language (`en` or `ja`); unset: the browser's languages."
#: A language code: the service names the ones the pages speak when another is sent.
LanguageCode = Annotated[str, Field(max_length=MAX_LANGUAGE_CODE_LENGTH)]


class UserCreate(Body):
    email: Email
    display_name: Name = ""
    role: RoleName = "agent"
    password: Password | None = Field(None, description="Unset: the user can only use API tokens.")
    user_id: UserIdText | None = Field(None, description="Unset: one is generated.")
    language: LanguageCode | None = Field(None, description=LANGUAGE_HELP)


class UsersImported(BaseModel):
    created: int = Field(description="How many users the file created.")
    user_ids: list[str] = Field(description="Their user ids, in the file's order.")


class UserUpdate(Changes):
    email: Email | None = None
    display_name: Name | None = None
    role: RoleName | None = None
    password: Password | None = None
    language: LanguageCode | None = Field(None, description=LANGUAGE_HELP)


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
