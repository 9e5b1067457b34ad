"""Wrap-up codes and the default set (no database)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callhopper.domain.wrapup import (
    DEFAULT_CODES,
    MAX_CODE_LENGTH,
    OwnerAction,
    WrapupCodeSpec,
    is_code,
)


@pytest.mark.parametrize("code", ["sale", "no_answer", "2nd_try", "x", "a" * MAX_CODE_LENGTH, "0_"])
def test_codes_are_lower_case_letters_digits_and_underscores(code: str) -> None:
    assert is_code(code)
    assert WrapupCodeSpec(code=code, label="L").code == code


@pytest.mark.parametrize("code", ["", "_sale", "Sale", "no answer", "café", "sale\n"])
def test_other_codes_are_refused(code: str) -> None:
    assert not is_code(code)
    with pytest.raises(ValidationError, match="is not a valid code"):
        WrapupCodeSpec(code=code, label="L")


def test_a_code_past_its_limit_is_refused_by_length() -> None:
    code = "a" * (MAX_CODE_LENGTH + 1)
    assert not is_code(code)
    with pytest.raises(ValidationError, match=f"at most {MAX_CODE_LENGTH} characters"):
        WrapupCodeSpec(code=code, label="L")


def test_only_text_is_a_code() -> None:
    assert not is_code(None)
    assert not is_code(12)


def test_a_retry_delay_is_not_negative() -> None:
    with pytest.raises(ValidationError):
        WrapupCodeSpec(code="x", label="X", retry_after_minutes=-1)


def test_the_default_set() -> None:
    codes = {c.code: c for c in DEFAULT_CODES}
    assert list(codes) == [
        "sale",
        "interested",
        "not_interested",
        "no_answer",
        "busy",
        "answering_machine",
        "wrong_number",
        "do_not_call",
        "callback",
    ]
    assert codes["do_not_call"].adds_to_dnc and codes["do_not_call"].final
    assert [c for c in codes if codes[c].adds_to_dnc] == ["do_not_call"]
    # Calls that did not reach anyone are no valid attempt: they take no ownership.
    assert [c for c in codes if not codes[c].counts_as_attempt] == ["no_answer", "busy"]
    assert {c for c in codes if codes[c].owner_action is OwnerAction.SET_OWNER_TO_AGENT} == {
        "sale",
        "interested",
    }
    assert all(is_code(c) for c in codes)
