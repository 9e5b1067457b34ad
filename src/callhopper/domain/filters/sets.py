"""A lead filter laid out as **sets → groups → items**, the way the console's builder shows
it, and its translation to and from the filter itself (groups of conditions joined by AND,
groups joined by OR).

In the builder, the items of a group are alternatives (any one of them is enough: "state is
AZ", "state is NV"), the groups of a set must all hold ("a licensed state" and "no owner"),
and any one set is enough. A set is therefore an AND of ORs; it becomes, in the filter, one
AND-group per way of picking one item from each of its groups. Those ways multiply (two
groups of three items make nine), so a layout that needs more groups than a filter may hold
is refused, naming the set.

The other way round is exact: each AND-group of a filter is a set whose groups hold one item
each, so a stored filter opens in the builder and saves back unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from math import prod

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters.model import MAX_GROUPS, Condition, Filter, Group
from callhopper.domain.filters.values import ERROR_FIELD

#: A builder layout: sets of groups of items (conditions).
Sets = Sequence[Sequence[Sequence[Condition]]]


def filter_of_sets(sets: Sets) -> Filter | None:
    """The filter that holds exactly when one of the ``sets`` does (``None`` when there is no
    item at all). Empty groups and sets are left out."""
    groups: list[Group] = []
    for n, set_ in enumerate(sets, start=1):
        alternatives = [tuple(items) for items in set_ if items]
        if not alternatives:
            continue
        ways = prod(len(items) for items in alternatives)
        if len(groups) + ways > MAX_GROUPS:
            raise InvalidInput(
                f"set {n} makes {ways:,} combinations of its groups' items; a filter holds at "
                f"most {MAX_GROUPS} in all: use fewer items, or several sets",
                field=ERROR_FIELD,
            )
        for picked in product(*alternatives):
            groups.append(Group(tuple(dict.fromkeys(picked))))
    return Filter(tuple(groups)) if groups else None


def sets_of_filter(found: Filter) -> list[list[list[Condition]]]:
    """``found`` as builder sets: one set per AND-group, one single-item group per
    condition."""
    return [[[c] for c in group.conditions] for group in found.groups]
