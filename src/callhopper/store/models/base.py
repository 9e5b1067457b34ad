"""The declarative base of every model, its naming convention, and helpers for the
statements and constraints the models share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Integer, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

from callhopper.store.types import JSONDoc, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
    }


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements (cheaper than ORM-enabled ones on hot paths)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def sql_values(members: Iterable[StrEnum]) -> str:
    """Enum members as the SQL list of a CHECK constraint or an index predicate
    (``'ready', 'leased'``), in the order the enum defines them whatever the order given:
    the stored values are defined once, in the domain, and the DDL text stays the same."""
    chosen = set(members)
    if not chosen:
        raise ValueError("an SQL value list needs at least one member")
    kinds = {type(m) for m in chosen}
    if len(kinds) != 1:
        raise ValueError("an SQL value list takes the members of one enum")
    (enum,) = kinds
    values = [m.value for m in enum if m in chosen]
    if any("'" in v for v in values):
        raise ValueError(f"{enum.__name__} has a value that is not a plain SQL literal")
    return ", ".join(f"'{v}'" for v in values)


def never_reuse_ids(metadata: MetaData) -> None:
    """Give every table keyed by its own integer ``id`` SQLite's ``AUTOINCREMENT``.

    Without it SQLite hands out the highest id again once the row holding it is deleted, so
    a new campaign (list, user, queue, …) would take a deleted one's id and inherit its
    history and audit entries. PostgreSQL's sequences never go back, on their own. Tables
    keyed by other tables' ids (``campaign_records``, ``queue_members``, …) are left alone.
    """
    for table in metadata.tables.values():
        key = list(table.primary_key.columns)
        if (
            len(key) == 1
            and key[0].name == "id"
            and not key[0].foreign_keys
            and isinstance(key[0].type, Integer)
        ):
            table.dialect_options["sqlite"]["autoincrement"] = True
