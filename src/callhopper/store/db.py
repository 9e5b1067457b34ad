"""Engine and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Its driver is put in autocommit
mode and callhopper emits ``BEGIN`` itself, so that a write transaction can be
``BEGIN IMMEDIATE``: it takes the single writer lock up front instead of
failing with ``database is locked`` when a read transaction later tries to
write. That lock is what makes SQLite claims atomic across processes.

On PostgreSQL every statement is a round trip to another process, so the pool pings a
connection before use only when it has sat idle (a restarted server's connections are
replaced before a request meets them; a connection in steady use is not pinged again on
every checkout), and :meth:`Database.lookup` reads without ``BEGIN`` and ``ROLLBACK`` (on SQLite
too: its driver then runs the one statement on its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from callhopper.domain.dispensing import CampaignContext

Dialect = Literal["sqlite", "postgresql"]

_SQLITE_BEGIN_OPTION = "callhopper_sqlite_begin"
_NO_BEGIN = "none"
#: PostgreSQL: runs of a statement's text on a connection before psycopg prepares it on the
#: server (its own default is 5); None: never (a pooler in transaction mode that does not
#: keep prepared statements, PgBouncer before 1.21 or without ``max_prepared_statements``).
PREPARE_THRESHOLD: int | None = 2
#: Seconds a pooled PostgreSQL connection may sit idle before it is pinged at checkout.
PING_AFTER_IDLE_S = 2.0
_IDLE_SINCE = "callhopper_idle_since"


class Database:
    """One database: an engine plus read and write transaction scopes."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 30000,
        pool_size: int = 20,
        pool_timeout_s: float = 30,
        ping_after_idle_s: float = PING_AFTER_IDLE_S,
        prepare_threshold: int | None = PREPARE_THRESHOLD,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.engine: Engine = _make_engine(
            url, busy_timeout_ms, pool_size, pool_timeout_s, prepare_threshold, echo
        )
        name = self.engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
        self.dialect: Dialect = "sqlite" if name == "sqlite" else "postgresql"
        write_engine = (
            self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            if self.dialect == "sqlite"
            else self.engine
        )
        # A lookup is one statement, atomic on its own: no BEGIN and ROLLBACK around it.
        lookup_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: _NO_BEGIN})
        )
        if self.dialect == "postgresql":
            _install_postgres_hooks(self.engine, ping_after_idle_s)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        self._lookup = sessionmaker(lookup_engine, expire_on_commit=False)
        # SQLite admits one writer; threads of this process queue here, in order, instead
        # of polling SQLite's lock with its backoff sleeps. BEGIN IMMEDIATE still provides
        # the atomicity, and other processes still wait on SQLite's own lock.
        self._writer_turn = threading.Lock() if self.dialect == "sqlite" else None
        #: This process's contexts of campaigns (:mod:`callhopper.store.claims.reads`):
        #: each is checked against the campaign's version in the database before use.
        self.contexts: dict[int, tuple[int, CampaignContext]] = {}

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for reading, rolled back when the session closes.

        Objects loaded here stay readable afterwards (detached, not expired).
        """
        with self._read() as session:
            yield session

    @contextmanager
    def lookup(self) -> Iterator[Session]:
        """For one reading statement (who a token stands for …): outside a transaction,
        which spares the ``BEGIN`` and ``ROLLBACK`` (round trips on PostgreSQL, statements
        on SQLite). Nothing that needs a transaction (temporary tables, ``SET LOCAL``,
        locks, several statements that must agree) belongs here."""
        with self._lookup() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception.

        On SQLite it holds the writer lock from its first statement.
        """
        if self._writer_turn is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._writer_turn, self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(
    url: str,
    busy_timeout_ms: int,
    pool_size: int,
    pool_timeout_s: float,
    prepare_threshold: int | None,
    echo: bool,
) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=pool_timeout_s,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )
        _install_sqlite_hooks(engine, busy_timeout_ms)
        return engine
    kwargs: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_timeout": pool_timeout_s,
        "echo": echo,
        # psycopg 3 prepares a statement on the server once a connection has run its text
        # this many times (None: never): the hot statements, built once with a stable text,
        # are then parsed and planned once per connection.
        "connect_args": {"prepare_threshold": prepare_threshold},
    }
    return create_engine(url, **kwargs)


def _install_postgres_hooks(engine: Engine, ping_after_idle_s: float) -> None:
    """Ping a connection at checkout when it has been idle longer than ``ping_after_idle_s``
    (``pool_pre_ping`` would ping at every checkout: a round trip per transaction). A dead
    connection is replaced by a new one before the checkout returns; one that dies while
    in steady use fails its statement, and SQLAlchemy then renews the whole pool."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since <= ping_after_idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out a new one.
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode != _NO_BEGIN:  # else the driver runs each statement on its own (autocommit)
            conn.exec_driver_sql(f"BEGIN {mode}")
