"""Lead filters over the ``records`` table: a column's value is ``data ->> name``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from callhopper.domain.filters import Filter
from callhopper.store.filters_sql import compile_filter
from callhopper.store.models import Record, User


def record_field(name: str) -> ColumnElement[Any]:
    """The SQL value of a filter field for the current ``records`` row."""
    if name == "@owner":
        return select(User.user_id).where(User.id == Record.owner_id).scalar_subquery()
    if name == "@timezone":
        return Record.tz.expression
    value: ColumnElement[Any] = Record.data[name].as_string()
    return value


def record_filter(f: Filter) -> ColumnElement[bool]:
    """A WHERE clause selecting the records ``f`` matches."""
    return compile_filter(f, record_field)
