"""The error family: one code per kind, a message for people and structured details."""

from __future__ import annotations

import pytest

from callhopper.domain import errors
from callhopper.domain.errors import CallhopperError, Conflict, InvalidInput

KINDS = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, CallhopperError)]


def test_each_kind_of_error_has_its_own_code() -> None:
    codes = [k.code for k in KINDS]
    assert len(codes) == len(set(codes)) == 10
    assert {"invalid_input", "not_found", "conflict", "contention"} <= set(codes)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_an_error_carries_its_message_and_details(kind: type[CallhopperError]) -> None:
    error = kind("what went wrong", field="name", position=3)
    assert str(error) == error.message == "what went wrong"
    assert error.code == kind.code
    assert error.details == {"field": "name", "position": 3}


def test_a_code_given_to_one_error_changes_neither_its_kind_nor_the_others() -> None:
    error = Conflict("locked", code="campaign_locked")
    assert error.code == "campaign_locked"
    assert Conflict.code == Conflict("x").code == "conflict"
    assert InvalidInput("x").details == {}
