"""Round trips a transaction does not need on PostgreSQL: no ping of a connection in steady
use, none of ``BEGIN``/``ROLLBACK`` around a lookup; and a connection that died while idle is
still replaced before anyone uses it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.orm import Session

from callhopper.settings import Settings
from callhopper.store.db import Database


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("connection pinging and lookups outside a transaction are PostgreSQL's")
    return db_url


@contextmanager
def _pool_of_one(url: str, ping_after_idle_s: float) -> Iterator[Database]:
    database = Database(url, pool_size=1, ping_after_idle_s=ping_after_idle_s)
    database.engine.pool._max_overflow = 0  # type: ignore[attr-defined]
    try:
        yield database
    finally:
        database.dispose()


def _pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    dialect = database.engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return seen


def _status(session: Session) -> TransactionStatus:
    dbapi = session.connection().connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    return dbapi.info.transaction_status


def test_a_connection_in_steady_use_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _pool_of_one(pg_url, ping_after_idle_s=60) as database:
        pings = _pings(database, monkeypatch)
        for _ in range(5):
            with database.write() as session:
                session.execute(text("SELECT 1"))
        assert pings == []
    with _pool_of_one(pg_url, ping_after_idle_s=0) as database:
        pings = _pings(database, monkeypatch)
        for _ in range(5):
            with database.read() as session:
                session.execute(text("SELECT 1"))
        assert len(pings) == 4  # every checkout after the first: idle "too long"


def test_a_connection_that_died_while_idle_is_replaced_before_use(pg_url: str) -> None:
    with _pool_of_one(pg_url, ping_after_idle_s=0) as database:
        with database.read() as session:
            first = session.scalar(text("SELECT pg_backend_pid()"))
        with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql")) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        with database.write() as session:  # no error: the dead connection never reaches us
            second = session.scalar(text("SELECT pg_backend_pid()"))
        assert second != first


def test_a_lookup_runs_outside_a_transaction_and_leaves_the_pool_as_it_was(pg_url: str) -> None:
    with _pool_of_one(pg_url, ping_after_idle_s=60) as database:
        with database.lookup() as session:
            assert session.scalar(text("SELECT 1")) == 1
            assert _status(session) is TransactionStatus.IDLE  # no BEGIN was sent
        with database.read() as session:  # the same connection, in a transaction again
            session.execute(text("SELECT 1"))
            assert _status(session) is TransactionStatus.INTRANS


@pytest.mark.parametrize(("setting", "threshold"), [("2", 2), ("0", 0), ("off", None)])
def test_hot_statements_are_prepared_on_the_server_unless_turned_off(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, setting: str, threshold: int | None
) -> None:
    """``CALLHOPPER_DB_PREPARE_THRESHOLD`` reaches the driver: past it a statement run again
    on a connection is prepared there (``off``: never, for a pooler that cannot keep them)."""
    monkeypatch.setenv("CALLHOPPER_DB_PREPARE_THRESHOLD", setting)
    settings = Settings(database_url=pg_url)
    assert settings.db_prepare_threshold == threshold
    database = Database(pg_url, pool_size=1, prepare_threshold=settings.db_prepare_threshold)
    try:
        with database.engine.connect() as conn:
            for _ in range(4):
                conn.execute(text("SELECT 1 WHERE 1 = :one"), {"one": 1})
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            count = prepared.scalar_one()
    finally:
        database.dispose()
    assert (count > 0) is (threshold is not None)
