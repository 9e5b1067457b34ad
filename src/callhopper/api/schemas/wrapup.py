"""Wrap-up code sets."""

from __future__ import annotations

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Changes
from callhopper.domain.wrapup import WrapupCodeSpec


class WrapupSetCreate(Body):
    name: str
    description: str = ""
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="Unset: a copy of the default codes."
    )


class WrapupSetUpdate(Changes):
    name: str | None = None
    description: str | None = None
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="The full new list of codes (codes are matched by their `code`)."
    )


class WrapupSetPublic(BaseModel):
    id: int
    name: str
    description: str
    codes: list[WrapupCodeSpec]
