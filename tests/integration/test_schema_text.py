"""The models' CHECK constraints and partial-index predicates, whose value lists come from
the domain's enums, say exactly what the migrations wrote.

``alembic check`` compares tables, columns and indexes but not the text of a CHECK or of an
index's WHERE; SQLite keeps both as written, so a fresh migrated database shows them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Table

from callhopper.store import migrate
from callhopper.store.db import Database
from callhopper.store.models import Base

TABLES = sorted(Base.metadata.tables.values(), key=lambda t: t.name)


@pytest.fixture(scope="module")
def migrated_sql(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The SQL text of every table and index of a database made by the migrations."""
    path: Path = tmp_path_factory.mktemp("schema") / "migrated.db"
    db = Database(f"sqlite:///{path}")
    migrate.ensure_schema(db)
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type IN ('table', 'index') AND sql IS NOT NULL"
        ).all()
    db.dispose()
    return {str(name): str(sql) for name, sql in rows}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_check_constraints_are_the_migrated_ones(
    table: Table, migrated_sql: dict[str, str]
) -> None:
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            assert str(constraint.sqltext) in migrated_sql[table.name], constraint.name


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_partial_index_predicates_are_the_migrated_ones(
    table: Table, migrated_sql: dict[str, str]
) -> None:
    for index in table.indexes:
        where = index.dialect_options["sqlite"]["where"]
        if where is not None:
            assert f"WHERE {where}" in migrated_sql[str(index.name)], index.name


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_tables_keyed_by_their_own_id_never_reuse_one(
    table: Table, migrated_sql: dict[str, str]
) -> None:
    """SQLite reuses the highest deleted id of a table without AUTOINCREMENT."""
    if table.dialect_options["sqlite"]["autoincrement"]:
        # The key on the id column itself (named or not), the only place SQLite takes it.
        assert re.search(
            r"\bid INTEGER NOT NULL (CONSTRAINT \w+ )?PRIMARY KEY AUTOINCREMENT",
            migrated_sql[table.name],
        ), migrated_sql[table.name]
    else:
        assert "AUTOINCREMENT" not in migrated_sql[table.name]
