"""A campaign's contact sorting as ORDER BY terms over ``records``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast

from callhopper.domain.campaigns import SortKey, sort_is_numeric
from callhopper.domain.contacts import ListSchema
from callhopper.domain.filters import NUMERIC_PATTERN
from callhopper.store.filters_sql import code_point_order
from callhopper.store.models import Record


def sort_terms(schema: ListSchema, sort: Sequence[SortKey]) -> list[Any]:
    """ORDER BY terms of a campaign's contact sorting (empty values last), over ``records``;
    callers add the tie-break. A number column sorts as numbers, any other by code point."""
    terms: list[Any] = []
    for key in sort:
        value: ColumnElement[Any] = Record.data[key.column].as_string()
        if sort_is_numeric(schema, key.column):
            value = case((value.regexp_match(NUMERIC_PATTERN), cast(value, Float)), else_=None)
        else:
            value = code_point_order(value)
        terms.append((value.desc() if key.descending else value.asc()).nulls_last())
    return terms
