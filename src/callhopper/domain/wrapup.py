"""Wrap-up codes (dispositions), the default set, and the sets agents choose from."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_CODE_LENGTH, MAX_NAME_LENGTH

#: A wrap-up code: lower-case letters, digits and underscores, not starting with ``_``.
CODE_RE = re.compile(rf"[a-z0-9][a-z0-9_]{{0,{MAX_CODE_LENGTH - 1}}}")


def is_code(value: object) -> bool:
    """Whether ``value`` is written like a wrap-up code (:data:`CODE_RE`, the whole text:
    ``$`` would also let a final newline through)."""
    return isinstance(value, str) and CODE_RE.fullmatch(value) is not None


class OwnerAction(StrEnum):
    """What a workflow rule may do to a lead's owner when this code is used (a rule's
    ``code_owner_action``)."""

    SET_OWNER_TO_AGENT = "set_owner_to_agent"
    CLEAR_OWNER = "clear_owner"


class WrapupCodeSpec(BaseModel):
    """One disposition.

    ``counts_as_attempt`` marks a *valid attempt*: it increments the record's
    attempts and is what makes a campaign take ownership of a record on a list shared by
    several campaigns, when the list has campaign ownership on.
    ``final`` closes the record for the campaign. ``retry_after_minutes`` keeps
    a non-final record from being dialled again too soon.
    """

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        max_length=MAX_CODE_LENGTH,
        description="Stable identifier: lower-case letters, digits, underscore.",
    )
    label: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    counts_as_attempt: bool = True
    final: bool = False
    retry_after_minutes: int | None = Field(None, ge=0, le=525600)
    adds_to_dnc: bool = False
    owner_action: OwnerAction | None = None

    @field_validator("code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if not is_code(value):
            raise ValueError(
                f"{value!r} is not a valid code: use lower-case letters, digits and underscores"
            )
        return value


DEFAULT_SET_NAME = "Default"

DEFAULT_CODES: tuple[WrapupCodeSpec, ...] = (
    WrapupCodeSpec(code="sale", label="Sale", final=True,
                   owner_action=OwnerAction.SET_OWNER_TO_AGENT),
    WrapupCodeSpec(code="interested", label="Interested", retry_after_minutes=24 * 60,
                   owner_action=OwnerAction.SET_OWNER_TO_AGENT),
    WrapupCodeSpec(code="not_interested", label="Not interested", final=True),
    WrapupCodeSpec(code="no_answer", label="No answer", counts_as_attempt=False,
                   retry_after_minutes=60),
    WrapupCodeSpec(code="busy", label="Busy", counts_as_attempt=False, retry_after_minutes=10),
    WrapupCodeSpec(code="answering_machine", label="Answering machine",
                   retry_after_minutes=4 * 60),
    WrapupCodeSpec(code="wrong_number", label="Wrong number", final=True),
    WrapupCodeSpec(code="do_not_call", label="Do not call", final=True, adds_to_dnc=True),
    WrapupCodeSpec(code="callback", label="Callback"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WrapupSet:
    """A named set of wrap-up codes, in the order agents see them."""

    id: int
    name: str
    description: str
    codes: tuple[WrapupCodeSpec, ...]

    def view(self) -> dict[str, Any]:
        """The set as the API and the audit log show it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "codes": [c.model_dump(mode="json") for c in self.codes],
        }


def check_unique_codes(codes: Sequence[WrapupCodeSpec]) -> None:
    """:class:`InvalidInput` naming the codes given more than once."""
    names = [c.code for c in codes]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InvalidInput(f"duplicate code(s): {', '.join(dupes)}", field="codes")
