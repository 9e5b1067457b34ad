"""ids are never reused: SQLite tables keyed by their own id get AUTOINCREMENT

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 20:00:00.000000

Without ``AUTOINCREMENT``, SQLite gives a new row the highest id plus one, so the id of the
last campaign (list, user, queue, …) deleted goes to the next one created, whose history
then starts with the deleted one's audit entries. PostgreSQL's sequences never go back, so
nothing changes there.

SQLite cannot add ``AUTOINCREMENT`` to a table: each table is rebuilt by SQLite's own
procedure (create the new table, copy the rows, drop the old one, rename the new one,
recreate its indexes), its text copied from the old one but for the key, so every column,
CHECK, foreign key and partial index stays as it was. ``callhopper db upgrade`` runs
migrations with foreign keys off on SQLite (dropping a table with them on would delete the
rows that refer to it, through ON DELETE CASCADE) and checks them all before committing.

Each table's counter starts past the highest id it holds and past the highest id the audit
log names for its kind of target, so an id deleted before the upgrade is not handed out
again either.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: The tables keyed by their own integer id, frozen at this revision, with the audit
#: log's target type for the rows of each (None: the audit log never names them).
TABLES: dict[str, str | None] = {
    "assignment_history": None,
    "audit_log": None,
    "auth_tokens": None,
    "callbacks": None,
    "campaigns": "campaign",
    "contact_lists": "contact_list",
    "dnc_lists": "dnc_list",
    "import_rejections": None,
    "imports": None,
    "inbound_routes": "inbound_route",
    "interactions": None,
    "queues": "queue",
    "record_ownership": None,
    "records": "record",
    "roles": "role",
    "skills": "skill",
    "staleness_rules": "staleness_rule",
    "users": "user",
    "webhook_outbox": None,
    "workflow_rules": "workflow_rule",
    "wrapup_code_sets": "wrapup_set",
    "wrapup_codes": None,
}

_HEADER = re.compile(r'^CREATE TABLE\s+"?(\w+)"?\s*\(')


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's sequences never hand out an id twice
    _require_foreign_keys_off()
    for table, target_type in TABLES.items():
        _rebuild(table, _with_key)
        _start_counter(table, target_type)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _require_foreign_keys_off()
    for table in TABLES:
        _rebuild(table, _without_key)


def _require_foreign_keys_off() -> None:
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0015 rebuilds SQLite tables and must run with foreign keys off, "
            "or dropping each old table would delete the rows that refer to it: "
            "run it with `callhopper db upgrade`"
        )


def _with_key(sql: str, table: str) -> str:
    """The table's text with the key on its id column, AUTOINCREMENT, instead of in a table
    constraint (SQLite accepts AUTOINCREMENT only there)."""
    column = "\tid INTEGER NOT NULL, \n"
    table_key = f"CONSTRAINT pk_{table} PRIMARY KEY (id)"
    if column not in sql or table_key not in sql:
        raise RuntimeError(f"unexpected table text, not changed: {sql}")
    keyed_column = f"\tid INTEGER NOT NULL CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT, \n"
    sql = sql.replace(column, keyed_column, 1)
    # Drop the table constraint with the separator on one side of it.
    if f"\n\t{table_key}, " in sql:
        return sql.replace(f"\n\t{table_key}, ", "", 1)
    if f", \n\t{table_key}" in sql:
        return sql.replace(f", \n\t{table_key}", "", 1)
    raise RuntimeError(f"unexpected table text, not changed: {sql}")


def _without_key(sql: str, table: str) -> str:
    """The table's text as before this migration: the key back in a table constraint."""
    keyed_column = f"\tid INTEGER NOT NULL CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT, \n"
    if keyed_column not in sql:
        raise RuntimeError(f"unexpected table text, not changed: {sql}")
    sql = sql.replace(keyed_column, "\tid INTEGER NOT NULL, \n", 1)
    table_key = f"CONSTRAINT pk_{table} PRIMARY KEY (id)"
    if "\n\tCONSTRAINT " in sql:
        return sql.replace("\n\tCONSTRAINT ", f"\n\t{table_key}, \n\tCONSTRAINT ", 1)
    head, _, tail = sql.rpartition("\n)")
    return f"{head}, \n\t{table_key}\n){tail}"


def _rebuild(table: str, change: Callable[[str, str], str]) -> None:
    """SQLite's procedure for a change ALTER TABLE cannot make, keeping every row."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    indexes = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).scalars()
    index_sql = list(indexes)
    rebuilt = f"_rebuild_{table}"
    new_sql = change(_HEADER.sub(f'CREATE TABLE "{rebuilt}" (', sql, count=1), table)
    bind.exec_driver_sql(new_sql)
    bind.exec_driver_sql(f'INSERT INTO "{rebuilt}" SELECT * FROM "{table}"')
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE "{rebuilt}" RENAME TO "{table}"')
    for statement in index_sql:
        bind.exec_driver_sql(statement)


def _start_counter(table: str, target_type: str | None) -> None:
    """Start the table's counter past every id it or the audit log has known."""
    bind = op.get_bind()
    highest = bind.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{table}"').scalar_one()
    if target_type is not None:
        audited = bind.exec_driver_sql(
            "SELECT coalesce(max(CAST(target_id AS INTEGER)), 0) FROM audit_log"
            " WHERE target_type = ? AND target_id NOT GLOB '*[^0-9]*' AND target_id != ''",
            (target_type,),
        ).scalar_one()
        highest = max(highest, audited)
    bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
    if highest:
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest)
        )
