"""Contact lists: the shape of a list and the row rules of import.

A :class:`ListSchema` says which columns a list has, which hold phone numbers,
where a contact's time zone comes from, which column names the owning agent
and which column is the unique key. :class:`RowNormaliser` turns one row of
raw strings into a stored record or a :class:`Rejection` with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_IDENTIFIER_LENGTH, MAX_VALUE_CHARS
from callhopper.domain.phones import (
    PhoneError,
    PhoneType,
    check_region,
    normalise_phone,
    phone_extension,
)
from callhopper.domain.phones import zone_of_phone as _zone_of_phone
from callhopper.domain.timezones import TimezoneSourceKind, is_zone, zone_from_source

MAX_COLUMNS = 200
NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_TRUE = frozenset({"true", "yes", "y", "1", "x", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


class FieldType(StrEnum):
    """Type of a column, which decides how an agent may edit it at wrap-up."""

    TEXT = "text"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    DATETIME = "datetime"
    DROPDOWN = "dropdown"


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_IDENTIFIER_LENGTH)
    type: FieldType = FieldType.TEXT
    required: bool = False
    #: Whether an agent may change the value at wrap-up; read-only otherwise.
    editable: bool = False
    #: The allowed values of a dropdown column.
    options: tuple[Annotated[str, Field(max_length=MAX_VALUE_CHARS)], ...] = ()

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("column name is empty")
        # Names become JSON paths in SQL; quotes and backslashes would need escaping there.
        if any(ch in stripped for ch in '"\\') or not stripped.isprintable():
            raise ValueError(f"column name {stripped!r} may not contain quotes or backslashes")
        return stripped

    @model_validator(mode="after")
    def _check_options(self) -> Self:
        if self.type is FieldType.DROPDOWN and not self.options:
            raise ValueError(f"dropdown column {self.name!r} needs options")
        if self.type is not FieldType.DROPDOWN and self.options:
            raise ValueError(f"column {self.name!r} has options but is not a dropdown")
        return self


class PhoneColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(max_length=MAX_IDENTIFIER_LENGTH)
    type: PhoneType = PhoneType.OTHER


class TimezoneSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TimezoneSourceKind
    column: str = Field(max_length=MAX_IDENTIFIER_LENGTH)


class ListSchema(BaseModel):
    """The shape of a contact list. Phone columns are dialled in the order given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[ColumnSpec, ...] = Field(min_length=1, max_length=MAX_COLUMNS)
    phone_columns: tuple[PhoneColumnSpec, ...] = Field(min_length=1)
    timezone_source: TimezoneSource | None = None
    #: Column whose values are agent emails or user ids: an agent-owned campaign delivers each
    #: record only to the agent it names.
    agent_owned_column: str | None = None
    #: Column naming each lead's owner (the agent of a lead-ownership campaign who alone
    #: receives it) by user id or email; set at import.
    lead_owner_column: str | None = None
    #: Column whose values must be unique within the list.
    key_column: str | None = None
    #: Region for numbers written without a country code.
    default_region: str = "US"
    #: Zone for contacts whose zone cannot be derived from the source or the phone.
    default_timezone: str | None = None

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return check_region(value)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_zone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        names = [c.name for c in self.columns]
        folded = [n.casefold() for n in names]
        dupes = sorted({n for n in names if folded.count(n.casefold()) > 1})
        if dupes:
            raise ValueError(f"duplicate column name(s): {', '.join(dupes)}")
        by_name = {c.name: c for c in self.columns}

        def need(column: str, role: str) -> ColumnSpec:
            if column not in by_name:
                raise ValueError(f"{role} {column!r} is not a column of the list")
            return by_name[column]

        phone_names = [p.column for p in self.phone_columns]
        if len(set(phone_names)) != len(phone_names):
            raise ValueError("a column is named twice as a phone column")
        for name in phone_names:
            if need(name, "phone column").editable:
                raise ValueError(f"phone column {name!r} cannot be editable")
        if self.timezone_source is not None:
            need(self.timezone_source.column, "time-zone column")
        for role, column in (
            ("agent-owned column", self.agent_owned_column),
            ("lead-owner column", self.lead_owner_column),
            ("key column", self.key_column),
        ):
            if column is None:
                continue
            if need(column, role).editable:
                raise ValueError(f"{role} {column!r} cannot be editable")
            if column in phone_names:
                raise ValueError(f"{role} {column!r} cannot also be a phone column")
        return self

    def column(self, name: str) -> ColumnSpec | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def phone_extensions(self, data: Mapping[str, Any]) -> list[str | None]:
        """The extension written with each phone column's number in a record's values, in
        the order of the phone columns (the order of the record's ``phones``)."""
        return [
            phone_extension(data.get(p.column), self.default_region) for p in self.phone_columns
        ]


@dataclass(frozen=True, slots=True)
class ZoneFallback:
    """A row stored with a time zone other than its time-zone column names: the column's
    value names no zone, so the zone came from the next rule (the phone number's prefix,
    else the list's default time zone)."""

    line: int
    column: str
    value: str
    reason: str
    #: The zone the row got instead, and where it came from.
    zone: str
    zone_from: str


@dataclass(frozen=True, slots=True)
class NormalisedRow:
    """A row accepted for storage."""

    line: int
    key: str | None
    data: dict[str, str]
    phones: list[str | None]
    tz: str
    #: The lead owner (a user's id), resolved after normalisation.
    owner_id: int | None = None
    #: Set when the time-zone column's value was not usable and a fallback zone was taken.
    zone_fallback: ZoneFallback | None = None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record already in the list, as an import that updates duplicates finds it."""

    id: int
    data: dict[str, str]
    owner_id: int | None


class OnDuplicate(StrEnum):
    """What an import does with a row whose key is already in the list."""

    #: Refuse the row (it is listed with the import's rejections).
    REJECT = "reject"
    #: Update the record that has the key.
    UPDATE = "update"


#: How many rejected rows an import report lists (its counts cover all of them).
REPORT_REJECTIONS_MAX = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row refused, with the line it came from and why."""

    line: int
    reason: str
    column: str | None = None


class RowNormaliser:
    """Applies a list's row rules: required values, types, phones, time zone, key."""

    def __init__(self, schema: ListSchema) -> None:
        self.schema = schema
        self._phone_columns = [p.column for p in schema.phone_columns]
        self._typed = [c for c in schema.columns if c.type is not FieldType.TEXT]
        self._required = [c.name for c in schema.columns if c.required]
        self._options = {
            c.name: {o.casefold(): o for o in c.options}
            for c in schema.columns
            if c.type is FieldType.DROPDOWN
        }

    def normalise(self, line: int, values: Mapping[str, str]) -> NormalisedRow | Rejection:
        """Check one row; ``values`` maps column names to raw cell text."""
        for name, value in values.items():
            if len(value) > MAX_VALUE_CHARS:
                return Rejection(
                    line,
                    f"column {name!r}: value too long ({len(value)} characters; "
                    f"at most {MAX_VALUE_CHARS})",
                    name,
                )
            # PostgreSQL cannot store NUL in text or JSON; SQLite would keep it silently.
            if "\x00" in value:
                return Rejection(line, f"column {name!r}: the value contains a NUL character", name)
        data = {name: value.strip() for name, value in values.items()}
        for name in self._required:
            if not data.get(name):
                return Rejection(line, f"required value missing in column {name!r}", name)
        for column in self._typed:
            raw = data.get(column.name)
            if not raw:
                continue
            try:
                data[column.name] = self._typed_value(column, raw)
            except ValueError as exc:
                return Rejection(line, f"column {column.name!r}: {exc}", column.name)
        phones: list[str | None] = []
        region = self.schema.default_region
        for name in self._phone_columns:
            raw = data.get(name)
            if not raw:
                phones.append(None)
                continue
            try:
                phones.append(normalise_phone(raw, region))
            except PhoneError as exc:
                return Rejection(line, f"column {name!r}: {exc}", name)
        if not any(phones):
            return Rejection(
                line,
                f"no phone number: every phone column ({', '.join(self._phone_columns)}) is empty",
            )
        tz = self._zone(data, phones)
        if isinstance(tz, Rejection):
            return Rejection(line, tz.reason, tz.column)
        fallback = None
        if isinstance(tz, ZoneFallback):
            fallback, tz = replace(tz, line=line), tz.zone
        key = None
        if self.schema.key_column is not None:
            key = data.get(self.schema.key_column) or None
            if key is None:
                return Rejection(
                    line,
                    f"key column {self.schema.key_column!r} is empty",
                    self.schema.key_column,
                )
        stored = {name: value for name, value in data.items() if value}
        return NormalisedRow(line, key, stored, phones, tz, zone_fallback=fallback)

    def key_of(self, values: Mapping[str, str]) -> str | None:
        """The key :meth:`normalise` would give a row, ``None`` if empty or not valid."""
        name = self.schema.key_column
        if name is None:
            return None
        raw = values.get(name, "").strip()
        column = self.schema.column(name)
        if raw and column is not None and column.type is not FieldType.TEXT:
            try:
                raw = self._typed_value(column, raw)
            except ValueError:
                return None
        return raw or None

    def _typed_value(self, column: ColumnSpec, raw: str) -> str:
        if column.type is FieldType.NUMBER:
            if not NUMBER_RE.match(raw):
                raise ValueError(f"{raw!r} is not a number")
            return raw
        if column.type is FieldType.CHECKBOX:
            return checkbox_value(raw)
        if column.type is FieldType.DATETIME:
            return datetime_value(raw)
        option = self._options[column.name].get(raw.casefold())
        if option is None:
            raise ValueError(f"{raw!r} is not one of {', '.join(column.options)}")
        return option

    def _zone(
        self, data: Mapping[str, str], phones: Sequence[str | None]
    ) -> str | ZoneFallback | Rejection:
        """The row's zone: the time-zone column's, else the first phone number's prefix's,
        else the list's default. A state or ZIP code that names no zone falls back the same
        way, reported as a :class:`ZoneFallback`; an unknown IANA name is refused."""
        source = self.schema.timezone_source
        unusable = None
        if source is not None:
            raw = data.get(source.column, "")
            if raw:
                zone = zone_from_source(source.kind, raw)
                if zone is not None:
                    return zone
                if source.kind is TimezoneSourceKind.IANA:
                    return Rejection(0, f"unknown time zone {raw!r}", source.column)
                unusable = (source.column, raw, _UNUSABLE[source.kind].format(raw=raw))
        # The source is empty or says nothing usable: the number's prefix, then the default.
        zone, zone_from = None, ""
        for phone in phones:
            if phone is not None:
                zone = _zone_of_phone(phone)
                if zone is not None:
                    zone_from = f"the prefix of phone number {phone}"
                    break
        if zone is None and self.schema.default_timezone is not None:
            zone, zone_from = self.schema.default_timezone, "the list's default time zone"
        if zone is not None:
            if unusable is None:
                return zone
            column, raw, reason = unusable
            return ZoneFallback(0, column, raw, reason, zone, zone_from)
        where = f"column {source.column!r} " if source is not None else ""
        return Rejection(
            0,
            f"time zone unknown: {where}gives none and the phone number does not identify "
            "a single zone; set the list's default_timezone",
            source.column if source is not None else None,
        )


#: Why a time-zone column's value names no zone, by the column's kind.
_UNUSABLE = {
    TimezoneSourceKind.US_STATE: "{raw!r} is not a US state or territory",
    TimezoneSourceKind.POSTAL_CODE: "{raw!r} is not a US ZIP code with a known time zone",
}


def validation_message(exc: ValidationError) -> str:
    """A schema's validation errors as one line for people (no pydantic dump)."""
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def checkbox_value(raw: str) -> str:
    """``"true"`` or ``"false"`` from the usual spellings of a tick box."""
    folded = raw.strip().casefold()
    if folded in _TRUE:
        return "true"
    if folded in _FALSE:
        return "false"
    raise ValueError(f"{raw!r} is not a checkbox value (true/false, yes/no, 1/0)")


def datetime_value(raw: str) -> str:
    """An ISO 8601 date or date-time, normalised to ``datetime.isoformat``."""
    try:
        return datetime.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 date-time") from None


def check_schema_change(old: ListSchema, new: ListSchema, *, has_records: bool) -> None:
    """Refuse changes that would make stored records disagree with their list.

    Before the first record anything goes. Afterwards columns may be added
    (not as required), relabelled as editable or read-only, and dropdowns may
    gain options; phone columns, the key, the time-zone source, column types
    and existing columns stay as they are, because stored values were checked
    and derived under them.
    """
    if not has_records:
        return
    old_columns = {c.name: c for c in old.columns}
    new_columns = {c.name: c for c in new.columns}
    removed = sorted(set(old_columns) - set(new_columns))
    if removed:
        raise InvalidInput(
            f"column(s) {', '.join(removed)} hold data and cannot be removed", field="columns"
        )
    for name, column in new_columns.items():
        previous = old_columns.get(name)
        if previous is None:
            if column.required:
                raise InvalidInput(
                    f"new column {name!r} cannot be required: existing records have no value",
                    field="columns",
                )
            continue
        if column.type is not previous.type:
            raise InvalidInput(
                f"column {name!r} holds data; its type cannot change from {previous.type.value} "
                f"to {column.type.value}",
                field="columns",
            )
        if column.required and not previous.required:
            raise InvalidInput(
                f"column {name!r} cannot become required once records exist", field="columns"
            )
        lost = set(previous.options) - set(column.options)
        if lost:
            raise InvalidInput(
                f"dropdown {name!r} cannot drop option(s) {', '.join(sorted(lost))}",
                field="columns",
            )
    for field in (
        "phone_columns",
        "timezone_source",
        "key_column",
        "default_region",
        "lead_owner_column",
    ):
        if getattr(old, field) != getattr(new, field):
            raise InvalidInput(f"{field} cannot change once the list has records", field=field)


#: Record properties a lead filter (a skill, or a campaign's default lead filter) may name
#: besides columns: the lead's owner and time zone.
RECORD_PROPERTIES = frozenset({"@owner", "@timezone"})


def filter_values(data: Mapping[str, str], *, tz: str | None, owner: str | None) -> dict[str, str]:
    """The values a lead filter sees for one record: its columns and its ``@`` properties."""
    values = dict(data)
    values["@timezone"] = tz or ""
    values["@owner"] = owner or ""
    return values


def check_filter_fields(fields: frozenset[str]) -> None:
    """Refuse ``@`` names that are not record properties (column names are free)."""
    unknown = sorted(f for f in fields if f.startswith("@") and f not in RECORD_PROPERTIES)
    if unknown:
        raise InvalidInput(
            f"unknown record propert{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)}; known: {', '.join(sorted(RECORD_PROPERTIES))}",
            field="expression",
        )
