"""The schema: migrations match the models, and stale databases are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from typer.testing import CliRunner

from callhopper.cli import app
from callhopper.domain.errors import SchemaOutOfDate
from callhopper.store import migrate
from callhopper.store.db import Database


def test_migrations_produce_exactly_the_declared_schema(db: Database) -> None:
    config = migrate.alembic_config(db)
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.check(config)  # raises if autogenerate would find any difference


def test_fresh_database_is_created_then_current(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrate.schema_state(db) is migrate.SchemaState.EMPTY
    migrate.ensure_schema(db)
    assert migrate.schema_state(db) is migrate.SchemaState.CURRENT
    db.dispose()


def test_schema_behind_is_refused_with_the_upgrade_command(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend this code is one migration ahead of the database.
    monkeypatch.setattr(migrate, "head_revision", lambda _db: "9999")
    assert migrate.schema_state(db) is migrate.SchemaState.BEHIND
    with pytest.raises(SchemaOutOfDate, match="callhopper db upgrade"):
        migrate.ensure_schema(db)


def test_serve_refuses_a_database_that_is_behind(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "head_revision", lambda _db: "9999")
    result = CliRunner().invoke(app, ["serve"], env={"CALLHOPPER_DATABASE_URL": db_url})
    assert result.exit_code == 1
    assert "run `callhopper db upgrade` first" in result.output


def test_foreign_tables_are_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'other.db'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaOutOfDate, match="does not recognise"):
        migrate.ensure_schema(db)
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_every_migration_downgrades_and_upgrades_again(db: Database) -> None:
    migrate.downgrade(db, "base")
    migrate.upgrade(db)
    assert migrate.schema_state(db) is migrate.SchemaState.CURRENT


def test_the_hopper_is_unlogged_on_postgresql(db: Database) -> None:
    """Every load rebuilds the hopper, so PostgreSQL does not log it (migration 0013)."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no unlogged tables")
    with db.engine.connect() as conn:
        persistence = conn.exec_driver_sql(
            "SELECT relpersistence FROM pg_class WHERE oid = 'hopper'::regclass"
        ).scalar_one()
    assert persistence == "u"
