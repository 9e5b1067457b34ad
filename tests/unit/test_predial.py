"""Pre-dial validation: which number is dialled, and what the agent is told (no database)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callhopper.domain.errors import InvalidInput
from callhopper.domain.predial import (
    MESSAGES,
    CloseReason,
    PredialCase,
    Verdict,
    combine_verdicts,
    dialling_order,
    plan_dial,
)

A, B, C = "+16025550100", "+16025550101", "+16025550102"

DNC_NEXT = (
    "The phone number is on the Do-Not-Call list. The next available phone number will be selected."
)
DNC_NONE = "The phone number is on the Do-Not-Call list"
UNAVAILABLE_NEXT = (
    "The phone number cannot be validated (Do-Not-Call list service is unavailable). "
    "The next available phone number will be selected."
)
UNAVAILABLE_NONE = "The phone number cannot be validated (Do-Not-Call list service is unavailable)."


def verdicts(**by_number: Verdict) -> Callable[[str], Verdict]:
    table = {A: Verdict.ALLOWED, B: Verdict.ALLOWED, C: Verdict.ALLOWED}
    table.update({{"a": A, "b": B, "c": C}[k]: v for k, v in by_number.items()})
    return table.__getitem__


def test_the_seed_messages_word_for_word() -> None:
    assert MESSAGES == {
        PredialCase.DNC_NEXT: DNC_NEXT,
        PredialCase.DNC_NONE: DNC_NONE,
        PredialCase.UNAVAILABLE_NEXT: UNAVAILABLE_NEXT,
        PredialCase.UNAVAILABLE_NONE: UNAVAILABLE_NONE,
    }


def test_an_allowed_first_number_is_dialled_without_a_message() -> None:
    plan = plan_dial([(0, A), (1, B)], verdicts())
    assert (plan.number, plan.phone_index, plan.requested) == (A, 0, True)
    assert plan.dial
    assert plan.case is PredialCase.CLEAR
    assert plan.message is None
    assert plan.skipped == ()
    assert plan.close_reason is None


def test_dnc_with_another_number_dials_the_next() -> None:
    plan = plan_dial([(0, A), (1, B)], verdicts(a=Verdict.DNC))
    assert (plan.number, plan.phone_index, plan.requested) == (B, 1, False)
    assert plan.case is PredialCase.DNC_NEXT
    assert plan.message == DNC_NEXT
    assert [(s.phone_index, s.number, s.verdict) for s in plan.skipped] == [(0, A, Verdict.DNC)]
    assert plan.skipped[0].message == DNC_NEXT
    assert plan.close_reason is None


def test_dnc_without_another_number_closes_as_dnc() -> None:
    plan = plan_dial([(0, A)], verdicts(a=Verdict.DNC))
    assert plan.number is None
    assert plan.phone_index is None
    assert not plan.dial
    assert not plan.requested
    assert plan.case is PredialCase.DNC_NONE
    assert plan.message == DNC_NONE
    assert plan.close_reason is CloseReason.DNC
    assert plan.skipped[0].message == DNC_NONE


def test_unavailable_with_another_number_dials_the_next() -> None:
    plan = plan_dial([(1, B), (0, A)], verdicts(b=Verdict.UNAVAILABLE))
    assert (plan.number, plan.phone_index, plan.requested) == (A, 0, False)
    assert plan.case is PredialCase.UNAVAILABLE_NEXT
    assert plan.message == UNAVAILABLE_NEXT
    assert [(s.number, s.verdict) for s in plan.skipped] == [(B, Verdict.UNAVAILABLE)]


def test_unavailable_without_another_number_closes_as_not_validated() -> None:
    plan = plan_dial([(0, A)], verdicts(a=Verdict.UNAVAILABLE))
    assert plan.number is None
    assert plan.case is PredialCase.UNAVAILABLE_NONE
    assert plan.message == UNAVAILABLE_NONE
    assert plan.close_reason is CloseReason.NOT_VALIDATED


def test_every_number_tried_in_order_and_each_skip_reported() -> None:
    plan = plan_dial([(0, A), (1, B), (2, C)], verdicts(a=Verdict.DNC, b=Verdict.UNAVAILABLE))
    assert plan.number == C
    assert plan.case is PredialCase.DNC_NEXT  # about the number the agent asked for
    assert [(s.number, s.verdict, s.case) for s in plan.skipped] == [
        (A, Verdict.DNC, PredialCase.DNC_NEXT),
        (B, Verdict.UNAVAILABLE, PredialCase.UNAVAILABLE_NEXT),
    ]


def test_numbers_after_the_chosen_one_are_not_validated() -> None:
    asked: list[str] = []

    def verdict(number: str) -> Verdict:
        asked.append(number)
        return Verdict.DNC if number == A else Verdict.ALLOWED

    assert plan_dial([(0, A), (1, B), (2, C)], verdict).number == B
    assert asked == [A, B]


def test_all_on_dnc_closes_as_dnc() -> None:
    plan = plan_dial([(0, A), (1, B)], verdicts(a=Verdict.DNC, b=Verdict.DNC))
    assert plan.close_reason is CloseReason.DNC
    assert plan.case is PredialCase.DNC_NONE
    assert [s.case for s in plan.skipped] == [PredialCase.DNC_NEXT, PredialCase.DNC_NONE]


@pytest.mark.parametrize(
    ("first", "second"),
    [(Verdict.DNC, Verdict.UNAVAILABLE), (Verdict.UNAVAILABLE, Verdict.DNC)],
)
def test_dnc_and_unvalidated_numbers_close_as_not_validated(
    first: Verdict, second: Verdict
) -> None:
    plan = plan_dial([(0, A), (1, B)], verdicts(a=first, b=second))
    assert plan.number is None
    assert plan.close_reason is CloseReason.NOT_VALIDATED
    assert plan.case is PredialCase.UNAVAILABLE_NONE
    assert plan.message == UNAVAILABLE_NONE
    assert [s.verdict for s in plan.skipped] == [first, second]


def test_a_typed_number_has_no_index_and_no_next() -> None:
    plan = plan_dial([(None, A)], verdicts(a=Verdict.DNC))
    assert plan.close_reason is CloseReason.DNC
    assert plan.skipped[0].phone_index is None
    assert plan_dial([(None, A)], verdicts()).phone_index is None


def test_no_candidate_is_refused() -> None:
    with pytest.raises(InvalidInput):
        plan_dial([], verdicts())


def test_dialling_order_puts_the_requested_number_first() -> None:
    phones = [A, None, B, C]
    assert dialling_order(phones) == [(0, A), (2, B), (3, C)]
    assert dialling_order(phones, 2) == [(2, B), (0, A), (3, C)]
    for bad in (1, 4, -1):
        with pytest.raises(InvalidInput) as caught:
            dialling_order(phones, bad)
        assert caught.value.details == {"field": "phone_index"}


def test_combine_verdicts_internal_lists_win() -> None:
    combined = combine_verdicts(
        [A, B, C],
        internal_dnc={A},
        external={A: Verdict.UNAVAILABLE, B: Verdict.DNC},
    )
    assert combined == {A: Verdict.DNC, B: Verdict.DNC, C: Verdict.UNAVAILABLE}
    allowed = combine_verdicts([A, B], set(), {A: Verdict.ALLOWED, B: Verdict.ALLOWED})
    assert set(allowed.values()) == {Verdict.ALLOWED}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([f"+1602555{n:04d}" for n in range(6)]), st.sampled_from(Verdict)
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_a_number_not_allowed_is_never_dialled(
    candidates: list[tuple[str, Verdict]], typed: bool
) -> None:
    # One verdict per number (the same number twice in a record gets the same verdict).
    table: dict[str, Verdict] = {}
    for number, verdict in candidates:
        table.setdefault(number, verdict)
    ordered = [(None if typed and i == 0 else i, n) for i, (n, _) in enumerate(candidates)]
    plan = plan_dial(ordered, table.__getitem__)
    allowed_positions = [i for i, (n, _) in enumerate(candidates) if table[n] is Verdict.ALLOWED]

    if plan.number is not None:
        assert table[plan.number] is Verdict.ALLOWED
    if allowed_positions:
        first = allowed_positions[0]
        assert (plan.phone_index, plan.number) == ordered[first]
        assert plan.requested == (first == 0)
        assert plan.close_reason is None
        assert len(plan.skipped) == first
        expected_case = (
            PredialCase.CLEAR
            if first == 0
            else PredialCase.DNC_NEXT
            if table[candidates[0][0]] is Verdict.DNC
            else PredialCase.UNAVAILABLE_NEXT
        )
        assert plan.case is expected_case
    else:
        assert plan.number is None and plan.phone_index is None and not plan.requested
        assert len(plan.skipped) == len(candidates)
        if all(table[n] is Verdict.DNC for n, _ in candidates):
            assert (plan.close_reason, plan.case) == (CloseReason.DNC, PredialCase.DNC_NONE)
        else:
            assert (plan.close_reason, plan.case) == (
                CloseReason.NOT_VALIDATED,
                PredialCase.UNAVAILABLE_NONE,
            )
        assert plan.skipped[-1].case in (PredialCase.DNC_NONE, PredialCase.UNAVAILABLE_NONE)
    assert all(s.verdict is not Verdict.ALLOWED for s in plan.skipped)
    assert all(s.verdict is table[s.number] for s in plan.skipped)
    assert plan.message == MESSAGES.get(plan.case)
