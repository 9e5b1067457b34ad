"""What every request body shares: unknown fields and NUL characters are refused; in a body
of changes, so is a null where null means nothing."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from callhopper.domain import limits

# The kinds of text a body takes, each with its limit (:mod:`callhopper.domain.limits`): a
# longer one is a 422 naming the field, the same on every database.
Name = Annotated[str, Field(max_length=limits.MAX_NAME_LENGTH)]
RoleName = Annotated[str, Field(max_length=limits.MAX_ROLE_NAME_LENGTH)]
UserIdText = Annotated[str, Field(max_length=limits.MAX_USER_ID_LENGTH)]
Email = Annotated[str, Field(max_length=limits.MAX_EMAIL_LENGTH)]
#: A user named by user id or by email.
UserRef = Annotated[str, Field(max_length=limits.MAX_EMAIL_LENGTH)]
Password = Annotated[str, Field(max_length=limits.MAX_PASSWORD_LENGTH)]
Description = Annotated[str, Field(max_length=limits.MAX_DESCRIPTION_LENGTH)]
Reason = Annotated[str, Field(max_length=limits.MAX_REASON_LENGTH)]
Note = Annotated[str, Field(max_length=limits.MAX_NOTE_LENGTH)]
Code = Annotated[str, Field(max_length=limits.MAX_CODE_LENGTH)]
Identifier = Annotated[str, Field(max_length=limits.MAX_IDENTIFIER_LENGTH)]
PhoneText = Annotated[str, Field(max_length=limits.MAX_PHONE_TEXT_LENGTH)]
FilterText = Annotated[str, Field(max_length=limits.MAX_FILTER_LENGTH)]


class Body(BaseModel):
    """A request body: unknown fields are refused, and so is a NUL character in any text.

    PostgreSQL's text and JSON cannot hold NUL (``\\u0000``), and SQLite would store it where
    PostgreSQL refuses it, so a request carrying one is refused on both: a 422 naming the
    field (and the place inside it) rather than the database's error.
    """

    model_config = ConfigDict(extra="forbid")

    #: Fields whose items are checked one by one by the code they go to (an import rejects a
    #: row with NUL and keeps the others): not refused here as a whole.
    checked_per_item: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in cls.checked_per_item:
            where = nul_in(value)
            if where is not None:
                raise PydanticCustomError(
                    "nul_character",
                    "contains a NUL character{where}, which text cannot hold",
                    {"where": f" at {where}" if where else ""},
                )
        return value


def _drop_null(schema: dict[str, Any], cls: Any) -> None:
    """Document the fields of a :class:`Changes` body outside ``nullable`` as not nullable."""
    nullable: frozenset[str] = getattr(cls, "nullable", frozenset())
    fields = getattr(cls, "model_fields", {})
    for name, field in fields.items():
        key = field.alias or name
        prop = schema.get("properties", {}).get(key)
        if name in nullable or prop is None or "anyOf" not in prop:
            continue
        kinds = [k for k in prop["anyOf"] if k.get("type") != "null"]
        if len(kinds) == len(prop["anyOf"]):
            continue
        del prop["anyOf"]
        if len(kinds) == 1:
            prop.update(kinds[0])
        else:
            prop["anyOf"] = kinds
        if prop.get("default", ...) is None:
            del prop["default"]


class Changes(Body):
    """A body of changes (``PATCH``, and ``PUT`` of a part): a field left out keeps its value.

    ``null`` is refused (422 naming the field) unless the field is one of ``nullable``,
    where null means something of its own (clear the value, no condition, every list). It
    never means "keep": a client that sends ``"name": null`` learns that at once instead of
    seeing the name unchanged, and the code behind never meets a ``None`` it cannot store.
    The schema the API documents says the same: those fields are not nullable there.
    """

    #: Fields for which ``null`` is a value of its own, as the field's description says.
    nullable: ClassVar[frozenset[str]] = frozenset()

    model_config = ConfigDict(json_schema_extra=_drop_null)

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError(
                "null_not_allowed", "may not be null: leave the field out to keep its value"
            )
        return value


def nul_in(value: Any) -> str | None:
    """Where ``value`` (as parsed from JSON) holds a NUL character: ``""`` for ``value``
    itself, else the path to it (``columns.2.name``); ``None`` when nowhere."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"key {key!r}"
        inner = nul_in(item)
        if inner is not None:
            return f"{key}.{inner}" if inner else str(key)
    return None
