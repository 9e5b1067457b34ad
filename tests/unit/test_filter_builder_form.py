"""The console's filter builder form: its fields read into sets → groups → items, its add
and remove steps, and a stored filter shown in it."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters import parse_filter
from callhopper.web.console.filter_builder import (
    Item,
    blank,
    draft_from,
    draft_of,
    filter_of,
    needed_filter,
    step_of,
    stepped,
)


def fields(draft: list[list[list[Item]]]) -> list[list[list[str]]]:
    return [[[i.field for i in group] for group in set_] for set_ in draft]


def test_the_form_is_read_in_index_order_with_gaps_closed_and_other_builders_ignored() -> None:
    form = FormData(
        [
            ("f-field-3-0-0", "tier"),
            ("f-field-0-2-0", "state"),
            ("f-op-0-2-0", "in"),
            ("f-value-0-2-0", "AZ, NV"),
            ("f-field-0-0-5", "@owner"),
            ("g-field-0-0-0", "other builder"),
            ("f-field-x-0-0", "not an index"),
        ]
    )
    draft = draft_of(form, "f")
    assert fields(draft) == [[["@owner"], ["state"]], [["tier"]]]
    assert draft[0][1][0] == Item("state", "in", "AZ, NV")


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("add-set", [[["a", "b"], ["c"]], [[""]]]),
        ("add-group-0", [[["a", "b"], ["c"], [""]]]),
        ("add-item-0-1", [[["a", "b"], ["c", ""]]]),
        ("remove-item-0-0-1", [[["a"], ["c"]]]),
        ("remove-group-0-1", [[["a", "b"]]]),
        ("remove-set-0", [[[""]]]),
    ],
)
def test_each_step_changes_one_place_and_the_builder_never_ends_up_empty(
    step: str, expected: list[list[list[str]]]
) -> None:
    draft = [[[Item("a"), Item("b")], [Item("c")]]]
    assert fields(stepped(draft, step)) == expected
    assert fields(draft) == [[["a", "b"], ["c"]]]  # the draft itself is left as it was


@pytest.mark.parametrize("step", ["add-set-0", "remove-set", "drop-set-0", "remove-item-0-0-9"])
def test_a_step_that_names_no_place_is_refused_naming_the_builder(step: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        stepped(blank(), step)
    assert refused.value.details == {"field": "builder"}


def test_a_step_belongs_to_the_builder_it_names() -> None:
    form = FormData([("builder", "lead_filter:add-set")])
    assert step_of(form, "lead_filter") == "add-set"
    assert step_of(form, "filter") is None


def test_values_are_numbers_when_written_as_one_and_lists_split_on_commas() -> None:
    draft = [
        [[Item("balance", ">=", "100.5")], [Item("tier", "in", "Gold, 3,")]],
        [[Item("zip", "==", "01234x")], [Item("", "==", "ignored")]],
    ]
    built = filter_of(draft)
    assert built is not None
    assert built.to_text() == ('(balance >= 100.5 and tier in ("Gold", 3)) or zip == "01234x"')
    assert filter_of(blank()) is None
    with pytest.raises(InvalidInput, match="at least one item"):
        needed_filter(blank())
    with pytest.raises(InvalidInput, match="is not an operator"):
        filter_of([[[Item("state", "~=", "AZ")]]])


def test_a_stored_filter_opens_in_the_builder_and_saves_back_unchanged() -> None:
    stored = parse_filter('(state in ("AZ", "NV") and balance > 2.5) or @owner empty')
    draft = draft_from(stored)
    assert draft[0][0][0] == Item("state", "in", "AZ, NV")
    assert draft[0][1][0] == Item("balance", ">", "2.5")
    assert filter_of(draft) == stored
    assert draft_from(None) == blank()
