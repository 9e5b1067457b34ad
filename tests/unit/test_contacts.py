"""Row rules of contact lists: types, phones, time zones, keys (pure, no database)."""

from __future__ import annotations

import pytest

from callhopper.domain.contacts import (
    ColumnSpec,
    FieldType,
    ListSchema,
    NormalisedRow,
    PhoneColumnSpec,
    Rejection,
    RowNormaliser,
    TimezoneSource,
    check_schema_change,
)
from callhopper.domain.errors import InvalidInput
from callhopper.domain.phones import PhoneType
from callhopper.domain.timezones import TimezoneSourceKind


def schema(**changes: object) -> ListSchema:
    base: dict[str, object] = {
        "columns": (
            ColumnSpec(name="id", required=True),
            ColumnSpec(name="phone"),
            ColumnSpec(name="mobile"),
            ColumnSpec(name="state"),
            ColumnSpec(name="amount", type=FieldType.NUMBER),
            ColumnSpec(name="vip", type=FieldType.CHECKBOX),
            ColumnSpec(name="due", type=FieldType.DATETIME),
            ColumnSpec(name="tier", type=FieldType.DROPDOWN, options=("Gold", "Silver")),
        ),
        "phone_columns": (
            PhoneColumnSpec(column="mobile", type=PhoneType.CELL),
            PhoneColumnSpec(column="phone", type=PhoneType.HOME),
        ),
        "timezone_source": TimezoneSource(kind=TimezoneSourceKind.US_STATE, column="state"),
        "key_column": "id",
    }
    base.update(changes)
    return ListSchema.model_validate(base)


def ok(result: NormalisedRow | Rejection) -> NormalisedRow:
    assert isinstance(result, NormalisedRow), result
    return result


def bad(result: NormalisedRow | Rejection) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


def test_a_good_row_is_normalised() -> None:
    row = ok(
        RowNormaliser(schema()).normalise(
            7,
            {
                "id": " 42 ",
                "phone": "(602) 234-5678",
                "mobile": "",
                "state": "Arizona",
                "amount": "12.50",
                "vip": "Yes",
                "due": "2026-04-01",
                "tier": "gold",
            },
        )
    )
    assert row.line == 7
    assert row.key == "42"
    assert row.phones == [None, "+16022345678"]
    assert row.tz == "America/Phoenix"
    assert row.data == {
        "id": "42",
        "phone": "(602) 234-5678",
        "state": "Arizona",
        "amount": "12.50",
        "vip": "true",
        "due": "2026-04-01T00:00:00",
        "tier": "Gold",
    }


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"id": "", "phone": "(602) 234-5678"}, "required value missing in column 'id'"),
        ({"id": "1", "phone": "", "mobile": ""}, "no phone number"),
        ({"id": "1", "phone": "12"}, "column 'phone':"),
        ({"id": "1", "phone": "(602) 234-5678", "amount": "1,5"}, "'1,5' is not a number"),
        ({"id": "1", "phone": "(602) 234-5678", "vip": "maybe"}, "not a checkbox value"),
        ({"id": "1", "phone": "(602) 234-5678", "due": "tomorrow"}, "not an ISO 8601"),
        ({"id": "1", "phone": "(602) 234-5678", "tier": "Bronze"}, "not one of Gold, Silver"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(values: dict[str, str], reason: str) -> None:
    rejection = bad(RowNormaliser(schema()).normalise(3, values))
    assert rejection.line == 3
    assert reason in rejection.reason


def test_zone_falls_back_to_the_phone_then_the_default() -> None:
    normaliser = RowNormaliser(schema())
    # No state: the New York area code decides.
    assert ok(normaliser.normalise(2, {"id": "1", "phone": "(212) 234-5678"})).tz == (
        "America/New_York"
    )
    # A toll-free number names no zone, and there is no default: refused, with the remedy.
    rejection = bad(normaliser.normalise(2, {"id": "1", "phone": "(800) 234-5678"}))
    assert "default_timezone" in rejection.reason
    with_default = RowNormaliser(schema(default_timezone="America/Chicago"))
    assert ok(with_default.normalise(2, {"id": "1", "phone": "(800) 234-5678"})).tz == (
        "America/Chicago"
    )


def test_an_unknown_iana_zone_is_rejected() -> None:
    iana = schema(timezone_source=TimezoneSource(kind=TimezoneSourceKind.IANA, column="state"))
    rejection = bad(
        RowNormaliser(iana).normalise(
            5, {"id": "1", "phone": "(602) 234-5678", "state": "Mars/Base"}
        )
    )
    assert rejection.reason == "unknown time zone 'Mars/Base'"
    assert rejection.column == "state"
    assert rejection.line == 5


def test_international_numbers_keep_their_country() -> None:
    normaliser = RowNormaliser(schema(default_timezone="UTC"))
    row = ok(normaliser.normalise(2, {"id": "1", "phone": "+81 3-1234-5678"}))
    assert row.phones == [None, "+81312345678"]
    assert row.tz == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone_columns": (PhoneColumnSpec(column="nope"),)}, "phone column 'nope'"),
        ({"key_column": "phone"}, "cannot also be a phone column"),
        ({"agent_owned_column": "ghost"}, "agent-owned column 'ghost'"),
        ({"default_timezone": "Nowhere/City"}, "unknown time zone"),
        ({"default_region": "XX"}, "unknown phone region"),
    ],
)
def test_schema_references_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schema(**changes)


def test_editable_agent_column_is_refused() -> None:
    columns = (ColumnSpec(name="phone"), ColumnSpec(name="agent", editable=True))
    with pytest.raises(ValueError, match="cannot be editable"):
        ListSchema(
            columns=columns,
            phone_columns=(PhoneColumnSpec(column="phone"),),
            agent_owned_column="agent",
        )


def test_schema_changes_once_records_exist() -> None:
    old = schema()
    grown = old.model_copy(update={"columns": (*old.columns, ColumnSpec(name="notes"))})
    check_schema_change(old, grown, has_records=True)
    required = old.model_copy(
        update={"columns": (*old.columns, ColumnSpec(name="notes", required=True))}
    )
    with pytest.raises(InvalidInput, match="cannot be required"):
        check_schema_change(old, required, has_records=True)
    shrunk = old.model_copy(update={"columns": old.columns[:-1]})
    with pytest.raises(InvalidInput, match="cannot be removed"):
        check_schema_change(old, shrunk, has_records=True)
    check_schema_change(old, shrunk, has_records=False)
