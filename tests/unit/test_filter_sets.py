"""The builder's sets → groups → items layout and the lead filter it stands for."""

from __future__ import annotations

import pytest

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters import Condition, Op, parse_filter
from callhopper.domain.filters.sets import filter_of_sets, sets_of_filter


def c(field: str, op: str, *values: str | float) -> Condition:
    return Condition(field, Op(op), values)


AZ, NV = c("state", "==", "AZ"), c("state", "==", "NV")
FREE = c("@owner", "empty")
GOLD = c("tier", "in", "Gold", "Silver")


def test_items_of_a_group_are_alternatives_and_groups_of_a_set_all_hold() -> None:
    built = filter_of_sets([[[AZ, NV], [FREE]], [[GOLD]]])
    assert built is not None
    assert built.to_text() == (
        '(state == "AZ" and @owner empty) or (state == "NV" and @owner empty) '
        'or tier in ("Gold", "Silver")'
    )
    for record, expected in [
        ({"state": "NV"}, True),
        ({"state": "NV", "@owner": "ann"}, False),
        ({"state": "CA", "@owner": "ann", "tier": "Gold"}, True),
        ({"state": "CA"}, False),
    ]:
        assert built.matches(record.get) is expected, record


def test_empty_groups_and_sets_are_left_out_and_nothing_at_all_is_no_filter() -> None:
    assert filter_of_sets([[[], [AZ]], []]) == filter_of_sets([[[AZ]]])
    assert filter_of_sets([[[]], []]) is None
    assert filter_of_sets([]) is None


def test_a_set_with_more_combinations_than_a_filter_holds_is_refused_naming_it() -> None:
    states = [c("state", "==", f"S{n}") for n in range(8)]
    tiers = [c("tier", "==", f"T{n}") for n in range(7)]
    with pytest.raises(InvalidInput, match="set 2 makes 56 combinations") as refused:
        filter_of_sets([[[AZ]], [states, tiers]])
    assert refused.value.details == {"field": "filter"}


@pytest.mark.parametrize(
    "text",
    [
        'state == "AZ"',
        '(state == "AZ" and balance >= 100) or tier in ("Gold", "Silver")',
        "`First Name` not empty and @owner empty or balance < -2.5",
    ],
)
def test_a_filter_opens_as_sets_and_saves_back_unchanged(text: str) -> None:
    found = parse_filter(text)
    sets = sets_of_filter(found)
    assert len(sets) == len(found.groups)
    assert all(len(group) == 1 for set_ in sets for group in set_)
    assert filter_of_sets(sets) == found
