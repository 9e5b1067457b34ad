"""What an agent's wrap-up does to a record: its state after the code, and the field edits
and note it may carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from callhopper.domain.contacts import (
    NUMBER_RE,
    FieldType,
    ListSchema,
    checkbox_value,
    datetime_value,
)
from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_NOTE_LENGTH
from callhopper.domain.records import RecordStatus
from callhopper.domain.wrapup import WrapupCodeSpec


@dataclass(frozen=True, slots=True)
class Disposition:
    """The record's state for the campaign after a wrap-up."""

    #: ``final``, or ``waiting`` (handled in this pass).
    status: RecordStatus
    retry_at: datetime | None
    counts_as_attempt: bool


def dispose(code: WrapupCodeSpec, now: datetime) -> Disposition:
    """Final codes close the record; others wait for ``retry_after`` or for the next pass."""
    if code.final:
        return Disposition(RecordStatus.FINAL, None, code.counts_as_attempt)
    retry_at = (
        now + timedelta(minutes=code.retry_after_minutes)
        if code.retry_after_minutes is not None
        else None
    )
    return Disposition(RecordStatus.WAITING, retry_at, code.counts_as_attempt)


def check_edits(
    schema: ListSchema, current: Mapping[str, str], edits: Mapping[str, Any]
) -> dict[str, tuple[str | None, str]]:
    """Validate an agent's field edits; returns ``{column: (before, after)}`` for real changes.

    Only editable columns may change, each with a value of its type: text, a
    number, a checkbox (true/false), an ISO 8601 date-time, or one of a
    dropdown's options. Read-only columns are refused by name.
    """
    changes: dict[str, tuple[str | None, str]] = {}
    for name, raw in edits.items():
        column = schema.column(name)
        if column is None:
            raise InvalidInput(f"{name!r} is not a field of this record", field=f"fields.{name}")
        if not column.editable:
            raise InvalidInput(f"field {name!r} is read-only", field=f"fields.{name}")
        value = _typed(column.type, column.options, name, raw)
        if column.required and not value:
            raise InvalidInput(f"field {name!r} is required", field=f"fields.{name}")
        before = current.get(name)
        if (before or "") != value:
            changes[name] = (before, value)
    return changes


def _typed(kind: FieldType, options: tuple[str, ...], name: str, raw: Any) -> str:
    where = f"fields.{name}"
    if raw is None:
        return ""
    if kind is FieldType.CHECKBOX:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        try:
            return checkbox_value(str(raw))
        except ValueError as exc:
            raise InvalidInput(f"field {name!r}: {exc}", field=where) from None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise InvalidInput(f"field {name!r}: expected a string", field=where)
    text = str(raw).strip()
    if not text:
        return ""
    if kind is FieldType.NUMBER:
        if not NUMBER_RE.match(text):
            raise InvalidInput(f"field {name!r}: {text!r} is not a number", field=where)
        return text
    if kind is FieldType.DATETIME:
        try:
            return datetime_value(text)
        except ValueError as exc:
            raise InvalidInput(f"field {name!r}: {exc}", field=where) from None
    if kind is FieldType.DROPDOWN:
        by_fold = {o.casefold(): o for o in options}
        if text.casefold() not in by_fold:
            raise InvalidInput(
                f"field {name!r}: {text!r} is not one of {', '.join(options)}", field=where
            )
        return by_fold[text.casefold()]
    return text


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"the note is longer than {MAX_NOTE_LENGTH} characters", field="note")
    return note
