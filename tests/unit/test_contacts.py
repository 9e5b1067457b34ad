"""Row rules of contact lists: types, phones, time zones, keys (pure, no database)."""

from __future__ import annotations

import pytest

from callhopper.domain.contacts import (
    ColumnSpec,
    FieldType,
    ListSchema,
    NormalisedRow,
    OnDuplicate,
    PhoneColumnSpec,
    Rejection,
    RowNormaliser,
    TimezoneSource,
    ZoneFallback,
    check_filter_fields,
    check_schema_change,
    checkbox_value,
    datetime_value,
    filter_values,
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


def test_a_state_or_zip_that_names_no_zone_falls_back_with_a_warning() -> None:
    normaliser = RowNormaliser(schema(default_timezone="America/Chicago"))
    # Not a state: the row is kept, in the zone of its New York number, and says so.
    row = ok(normaliser.normalise(7, {"id": "1", "phone": "(212) 234-5678", "state": "Nowhere"}))
    assert row.tz == "America/New_York"
    assert row.zone_fallback == ZoneFallback(
        7,
        "state",
        "Nowhere",
        "'Nowhere' is not a US state or territory",
        "America/New_York",
        "the prefix of phone number +12122345678",
    )
    # A toll-free number names no zone: the list's default, said as such.
    row = ok(normaliser.normalise(8, {"id": "2", "phone": "(800) 234-5678", "state": "ZZ"}))
    assert row.zone_fallback is not None
    assert (row.tz, row.zone_fallback.zone_from) == (
        "America/Chicago",
        "the list's default time zone",
    )
    # A ZIP code with no known zone.
    zips = RowNormaliser(
        schema(timezone_source=TimezoneSource(kind=TimezoneSourceKind.POSTAL_CODE, column="state"))
    )
    row = ok(zips.normalise(9, {"id": "3", "phone": "(212) 234-5678", "state": "00000"}))
    assert row.zone_fallback is not None
    assert row.zone_fallback.reason == "'00000' is not a US ZIP code with a known time zone"
    # A usable value, or none at all, is no fallback to warn about.
    assert (
        ok(
            normaliser.normalise(2, {"id": "4", "phone": "(212) 234-5678", "state": "AZ"})
        ).zone_fallback
        is None
    )
    assert ok(normaliser.normalise(2, {"id": "5", "phone": "(212) 234-5678"})).zone_fallback is None


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


def test_a_lead_filter_sees_the_columns_and_the_record_s_properties() -> None:
    values = filter_values({"state": "AZ"}, tz="America/Phoenix", owner=None)
    assert values == {"state": "AZ", "@timezone": "America/Phoenix", "@owner": ""}
    check_filter_fields(frozenset({"state", "@owner", "@timezone", "any column"}))
    with pytest.raises(InvalidInput, match="unknown record property @colour; known: @owner"):
        check_filter_fields(frozenset({"@colour"}))


@pytest.mark.parametrize(
    ("raw", "value"),
    [("Yes", "true"), (" x ", "true"), ("ON", "true"), ("0", "false"), ("n", "false")],
)
def test_a_tick_box_takes_the_usual_spellings(raw: str, value: str) -> None:
    assert checkbox_value(raw) == value


def test_a_date_time_is_kept_in_iso_form() -> None:
    assert datetime_value(" 2026-03-02 ") == "2026-03-02T00:00:00"
    assert datetime_value("2026-03-02T08:30+01:00") == "2026-03-02T08:30:00+01:00"
    with pytest.raises(ValueError, match="is not an ISO 8601 date-time"):
        datetime_value("tomorrow")


def test_the_key_of_a_row_is_its_normalised_key_value() -> None:
    normaliser = RowNormaliser(
        schema(
            key_column="amount",
            columns=(
                ColumnSpec(name="amount", type=FieldType.NUMBER),
                ColumnSpec(name="phone"),
                ColumnSpec(name="mobile"),
                ColumnSpec(name="state"),
            ),
        )
    )
    assert normaliser.key_of({"amount": " 12.50 "}) == "12.50"
    assert normaliser.key_of({"amount": "twelve"}) is None
    assert normaliser.key_of({}) is None
    assert RowNormaliser(schema(key_column=None)).key_of({"id": "7"}) is None


def test_an_import_either_refuses_or_updates_a_row_whose_key_exists() -> None:
    assert [o.value for o in OnDuplicate] == ["reject", "update"]
