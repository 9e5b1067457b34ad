"""Wrap-up code sets."""

from __future__ import annotations

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Changes, Description, Name
from callhopper.domain.wrapup import WrapupCodeSpec


class WrapupSetCreate(Body):
    name: Name
    description: Description = ""
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="Unset: a copy of the default codes."
    )


class WrapupSetUpdate(Changes):
    name: Name | None = None
    description: Description | None = None
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="The full new list of codes (codes are matched by their `code`)."
    )


class WrapupSetPublic(BaseModel):
    id: int
    name: str
    description: str
    codes: list[WrapupCodeSpec]
