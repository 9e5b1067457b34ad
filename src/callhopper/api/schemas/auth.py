"""Logging in, the current user, and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Email, Name, Password
from callhopper.domain.limits import MAX_LANGUAGE_CODE_LENGTH


class LoginIn(Body):
    email: Email
    password: Password


class MePublic(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: str
    rights: list[str]
    language: str | None = Field(description="The pages' language you chose (null: the browser's).")


class MeUpdate(Body):
    language: str = Field(
        max_length=MAX_LANGUAGE_CODE_LENGTH, description="The pages' language: `en` or `ja`."
    )


class TokenCreate(Body):
    name: Name = Field(min_length=1)
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Unset: never expires.")


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only a hash is stored.")
