"""The names people give things (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhopper.domain.errors import InvalidInput
from callhopper.domain.names import MAX_NAME_LENGTH, check_name


def test_a_name_is_stripped() -> None:
    assert check_name("  Spring sale \n") == "Spring sale"
    assert check_name("x" * MAX_NAME_LENGTH) == "x" * MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "the name is empty"),
        (" \t ", "the name is empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "the name is longer than 200 characters"),
    ],
)
def test_an_empty_or_overlong_name_is_refused(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        check_name(raw)
    assert err.value.details == {"field": "name"}


@given(st.text(max_size=MAX_NAME_LENGTH + 20))
def test_a_name_is_kept_exactly_when_it_is_a_valid_name(raw: str) -> None:
    stripped = raw.strip()
    if 0 < len(stripped) <= MAX_NAME_LENGTH:
        assert check_name(raw) == stripped
    else:
        with pytest.raises(InvalidInput):
            check_name(raw)
