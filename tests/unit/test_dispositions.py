"""What a wrap-up does to a record: its state after the code, and the field edits and note
it carries (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhopper.domain.contacts import ColumnSpec, FieldType, ListSchema, PhoneColumnSpec
from callhopper.domain.dispositions import (
    MAX_NOTE_LENGTH,
    Disposition,
    check_edits,
    check_note,
    dispose,
)
from callhopper.domain.errors import InvalidInput
from callhopper.domain.records import RecordStatus
from callhopper.domain.wrapup import DEFAULT_CODES, WrapupCodeSpec

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CODES = {c.code: c for c in DEFAULT_CODES}


def test_a_final_code_closes_the_record() -> None:
    assert dispose(CODES["sale"], NOW) == Disposition(RecordStatus.FINAL, None, True)
    assert dispose(CODES["wrong_number"], NOW).status == "final"  # as stored


def test_other_codes_wait_for_their_retry_delay_or_the_next_pass() -> None:
    assert dispose(CODES["busy"], NOW) == Disposition(
        RecordStatus.WAITING, NOW + timedelta(minutes=10), False
    )
    assert dispose(CODES["callback"], NOW) == Disposition(RecordStatus.WAITING, None, True)


@given(
    final=st.booleans(),
    minutes=st.one_of(st.none(), st.integers(0, 525600)),
    attempt=st.booleans(),
)
def test_a_disposition_follows_the_code(final: bool, minutes: int | None, attempt: bool) -> None:
    code = WrapupCodeSpec(
        code="x", label="X", final=final, retry_after_minutes=minutes, counts_as_attempt=attempt
    )
    outcome = dispose(code, NOW)
    assert outcome.counts_as_attempt is attempt
    if final:
        assert outcome == Disposition(RecordStatus.FINAL, None, attempt)
    else:
        assert outcome.status is RecordStatus.WAITING
        assert outcome.retry_at == (None if minutes is None else NOW + timedelta(minutes=minutes))


SCHEMA = ListSchema(
    columns=(
        ColumnSpec(name="phone"),
        ColumnSpec(name="name"),
        ColumnSpec(name="note", editable=True),
        ColumnSpec(name="title", editable=True, required=True),
        ColumnSpec(name="amount", type=FieldType.NUMBER, editable=True),
        ColumnSpec(name="vip", type=FieldType.CHECKBOX, editable=True),
        ColumnSpec(name="due", type=FieldType.DATETIME, editable=True),
        ColumnSpec(name="tier", type=FieldType.DROPDOWN, editable=True, options=("Gold", "Silver")),
    ),
    phone_columns=(PhoneColumnSpec(column="phone"),),
)
CURRENT = {"name": "Ann", "note": "old", "title": "Dr", "amount": "3", "tier": "Gold"}


def test_edits_are_typed_and_only_changes_are_kept() -> None:
    changes = check_edits(
        SCHEMA,
        CURRENT,
        {
            "note": "  new  ",
            "title": "Dr",  # unchanged
            "amount": 4.5,
            "vip": True,
            "due": "2026-03-04 09:30",
            "tier": "silver",
        },
    )
    assert changes == {
        "note": ("old", "new"),
        "amount": ("3", "4.5"),
        "vip": (None, "true"),
        "due": (None, "2026-03-04T09:30:00"),
        "tier": ("Gold", "Silver"),
    }


def test_an_empty_or_null_edit_clears_an_optional_field() -> None:
    assert check_edits(SCHEMA, CURRENT, {"note": None, "tier": ""}) == {
        "note": ("old", ""),
        "tier": ("Gold", ""),
    }


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"colour": "red"}, "'colour' is not a field of this record"),
        ({"name": "Bob"}, "field 'name' is read-only"),
        ({"phone": "+16022345678"}, "field 'phone' is read-only"),
        ({"title": " "}, "field 'title' is required"),
        ({"amount": "lots"}, "'lots' is not a number"),
        ({"amount": True}, "expected a string"),
        ({"note": ["a"]}, "expected a string"),
        ({"vip": "maybe"}, "is not a checkbox value"),
        ({"due": "soon"}, "is not an ISO 8601 date-time"),
        ({"tier": "Bronze"}, "'Bronze' is not one of Gold, Silver"),
    ],
)
def test_bad_edits_are_refused_naming_the_field(edits: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        check_edits(SCHEMA, CURRENT, edits)
    assert err.value.details == {"field": f"fields.{next(iter(edits))}"}


def test_a_note_has_a_maximum_length() -> None:
    assert check_note("x" * MAX_NOTE_LENGTH) == "x" * MAX_NOTE_LENGTH
    with pytest.raises(InvalidInput, match="longer than 10000 characters"):
        check_note("x" * (MAX_NOTE_LENGTH + 1))
