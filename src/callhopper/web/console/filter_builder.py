"""The lead-filter builder that the skills page and the campaign form share: any number of
sets → groups → items, each item a field, an operator and a value.

Without JavaScript, the builder's "add" and "remove" buttons submit the whole form with a
``builder`` step (``PREFIX:add-group-0``); the page answers with the same form, the step
done and nothing saved. With htmx, the same buttons post in the background and only the
builder is swapped. What the layout means is :mod:`callhopper.domain.filters.sets`; this
module only reads the form's fields into that layout and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import FormData

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters import (
    EMPTINESS_OPS,
    LIST_OPS,
    MAX_CONDITIONS,
    MAX_GROUPS,
    Condition,
    Filter,
    Op,
)
from callhopper.domain.filters.sets import filter_of_sets, sets_of_filter
from callhopper.domain.filters.values import Value, render_value
from callhopper.web.messages import N_
from callhopper.web.pages.common import text_of

#: The name of the builder's add and remove buttons.
STEP = "builder"
OPS = {
    Op.EQ: N_("is"),
    Op.NE: N_("is not"),
    Op.LT: N_("is less than"),
    Op.LE: N_("is at most"),
    Op.GT: N_("is more than"),
    Op.GE: N_("is at least"),
    Op.IN: N_("is one of (separated by commas)"),
    Op.NOT_IN: N_("is none of (separated by commas)"),
    Op.EMPTY: N_("is empty"),
    Op.NOT_EMPTY: N_("is not empty"),
}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_FIELD = re.compile(r"^(?P<part>field|op|value)-(?P<s>\d{1,3})-(?P<g>\d{1,3})-(?P<i>\d{1,3})$")
_STEP = re.compile(r"^(?P<verb>add|remove)-(?P<what>set|group|item)(?P<at>(-\d{1,3}){0,3})$")
#: How many indices each step names: a set is added at the end, a group to a set, …
_ADD_AT = {"set": 0, "group": 1, "item": 2}
_REMOVE_AT = {"set": 1, "group": 2, "item": 3}


@dataclass
class Item:
    """One item as the form holds it (the text typed, not yet checked)."""

    field: str = ""
    op: str = Op.EQ.value
    value: str = ""


#: Sets of groups of items.
Draft = list[list[list[Item]]]


def blank() -> Draft:
    """One set with one group with one empty item: where a new filter starts."""
    return [[[Item()]]]


def draft_of(form: FormData, prefix: str) -> Draft:
    """The builder named ``prefix`` as the form sent it, in index order (gaps closed)."""
    found: dict[int, dict[int, dict[int, Item]]] = {}
    start = f"{prefix}-"
    for key in form:
        if not key.startswith(start):
            continue
        match = _FIELD.match(key[len(start) :])
        if match is None:
            continue
        s, g, i = int(match["s"]), int(match["g"]), int(match["i"])
        item = found.setdefault(s, {}).setdefault(g, {}).setdefault(i, Item())
        setattr(item, match["part"], text_of(form, key))
    return [
        [[groups[g][i] for i in sorted(groups[g])] for g in sorted(groups)]
        for groups in (found[s] for s in sorted(found))
    ]


def step_of(form: FormData, prefix: str) -> str | None:
    """The add/remove step the form was sent with for this builder, if any."""
    sent = text_of(form, STEP)
    head, _, step = sent.partition(":")
    return step if head == prefix else None


def stepped(draft: Draft, step: str) -> Draft:
    """``draft`` with ``step`` done (``add-set``, ``add-group-S``, ``add-item-S-G``,
    ``remove-set-S``, ``remove-group-S-G``, ``remove-item-S-G-I``); a builder never ends
    up empty: removing its last item leaves one empty item."""
    match = _STEP.match(step)
    at = [int(n) for n in match["at"].split("-")[1:]] if match else []
    if (
        match is None
        or len(at) != (_ADD_AT if match["verb"] == "add" else _REMOVE_AT)[match["what"]]
    ):
        raise InvalidInput(f"{step!r} is not a step of the filter builder", field=STEP)
    sets = [[list(group) for group in set_] for set_ in draft]
    try:
        if match["verb"] == "add":
            _add(sets, match["what"], at)
        elif match["what"] == "set":
            del sets[at[0]]
        elif match["what"] == "group":
            del sets[at[0]][at[1]]
        else:
            del sets[at[0]][at[1]][at[2]]
    except IndexError:
        raise InvalidInput(f"the filter builder has no place {step!r}", field=STEP) from None
    sets = [[group for group in set_ if group] for set_ in sets]
    sets = [set_ for set_ in sets if set_]
    return sets or blank()


def _add(sets: Draft, what: str, at: list[int]) -> None:
    if what == "set":
        if len(sets) >= MAX_GROUPS:
            raise InvalidInput(f"a filter holds at most {MAX_GROUPS} sets", field=STEP)
        sets.append([[Item()]])
    elif what == "group":
        if len(sets[at[0]]) >= MAX_CONDITIONS:
            raise InvalidInput(f"a set holds at most {MAX_CONDITIONS} groups", field=STEP)
        sets[at[0]].append([Item()])
    else:
        if len(sets[at[0]][at[1]]) >= MAX_GROUPS:
            raise InvalidInput(f"a group holds at most {MAX_GROUPS} items", field=STEP)
        sets[at[0]][at[1]].append(Item())


def _value(raw: str) -> Value:
    """A number when it is written as one, else the text."""
    raw = raw.strip()
    return float(raw) if _NUMBER.match(raw) else raw


def _condition(item: Item) -> Condition:
    try:
        op = Op(item.op or Op.EQ.value)
    except ValueError:
        raise InvalidInput(f"{item.op!r} is not an operator", field="filter") from None
    if op in EMPTINESS_OPS:
        values: tuple[Value, ...] = ()
    elif op in LIST_OPS:
        values = tuple(_value(v) for v in item.value.split(",") if v.strip())
    else:
        values = (_value(item.value),)
    return Condition(item.field.strip(), op, values)


def filter_of(draft: Draft) -> Filter | None:
    """The lead filter the builder shows (items without a field are left out; ``None``
    when none has one)."""
    return filter_of_sets(
        [[[_condition(i) for i in group if i.field.strip()] for group in set_] for set_ in draft]
    )


def needed_filter(draft: Draft) -> Filter:
    """The builder's filter, which must have an item (a skill is nothing without one)."""
    built = filter_of(draft)
    if built is None:
        raise InvalidInput("the filter needs at least one item with a field", field="filter")
    return built


def _text(value: Value) -> str:
    return value if isinstance(value, str) else render_value(value)


def draft_from(found: Filter | None) -> Draft:
    """A stored filter in the builder (one set per AND-group of the filter)."""
    if found is None:
        return blank()
    return [
        [
            [Item(c.field, c.op.value, ", ".join(_text(v) for v in c.values)) for c in group]
            for group in set_
        ]
        for set_ in sets_of_filter(found)
    ]
