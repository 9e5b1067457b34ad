"""Shared fixtures: a fresh migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL runs when ``CALLHOPPER_TEST_POSTGRES_URL`` is set (CI sets it). Each
test gets its own database cloned from a template migrated once per session
(``CREATE DATABASE … TEMPLATE``); SQLite tests get a copy of a migrated file.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from callhopper import security
from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.core.users import UserService
from callhopper.domain.actors import SYSTEM
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.migrate import upgrade
from callhopper.store.uow import SqlUnitOfWork
from tests.support import MakeUser, Person

# Property tests check rules, not speed: on a loaded machine (CI shares its cores) the
# time Hypothesis takes to draw inputs says nothing about the code under test.
hypothesis.settings.register_profile(
    "callhopper", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("callhopper")

PG_URL_ENV = "CALLHOPPER_TEST_POSTGRES_URL"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


def pg_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        return None
    return Settings(database_url=url).database_url


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(pg_url() is None, reason=f"{PG_URL_ENV} is not set"),
    ),
]


class PostgresTemplates:
    """Creates throwaway databases from one migrated template.

    Dropping a database waits for a checkpoint (about 2 s here), while creating one from
    the template takes a tenth of that; so tests hand their databases to a few background
    threads that drop them while the next tests run, and concurrent drops share their
    checkpoints. ``close`` waits for every drop and reports any that failed.
    """

    DROP_THREADS = 8

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"chtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tpl"
        self.engine = create_engine(
            admin_url,
            isolation_level="AUTOCOMMIT",
            pool_size=2,
            max_overflow=self.DROP_THREADS,
        )
        self._counter = itertools.count()
        self._dropper = ThreadPoolExecutor(self.DROP_THREADS, thread_name_prefix="pg-drop")
        self._drops: list[Future[None]] = []
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        template_db = Database(self.url_for(self.template))
        upgrade(template_db)
        template_db.dispose()

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        name = f"{self.prefix}_{next(self._counter)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def drop(self, name: str) -> None:
        """Drop ``name`` in the background (see the class's docstring)."""
        self._drops.append(self._dropper.submit(self._drop_now, name))

    def _drop_now(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self._dropper.shutdown(wait=True)
        self._drop_now(self.template)
        self.engine.dispose()
        for done in self._drops:
            done.result()


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """argon2 with its smallest cost in the tests: the default (about 0.15 s a hash here)
    is for attackers, and the suite creates users with passwords by the hundred. Server
    processes that tests start still hash at full cost."""
    saved = security._hasher, security._DUMMY_HASH
    security._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash("not a password")
    yield
    security._hasher, security._DUMMY_HASH = saved


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[PostgresTemplates | None]:
    url = pg_url()
    if url is None:
        yield None
        return
    templates = PostgresTemplates(url)
    yield templates
    templates.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_templates: PostgresTemplates | None,
) -> Iterator[str]:
    """The URL of a fresh, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "callhopper.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert pg_templates is not None
    name = pg_templates.create()
    yield pg_templates.url_for(name)
    pg_templates.drop(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, import_workers=0)


@pytest.fixture
def app_client(settings: Settings, db: Database, clock: FrozenClock) -> Iterator[TestClient]:
    """An API client with no credentials."""
    with TestClient(create_app(settings, db, clock)) as client:
        yield client


@pytest.fixture
def make_user(db: Database, clock: FrozenClock) -> MakeUser:
    """Create a user with an API token; ``role`` defaults to agent."""
    counter = itertools.count(1)
    users = UserService(SqlUnitOfWork(db), clock, security.Argon2PasswordHasher())

    def make(role: str = "agent", *, password: str | None = "correct horse", **kw: Any) -> Person:
        n = next(counter)
        email = kw.pop("email", f"{role}{n}@example.com")
        user = users.create_user(
            SYSTEM,
            email=email,
            display_name=kw.pop("display_name", f"{role.title()} {n}"),
            role=role,
            password=password,
            user_id=kw.pop("user_id", None),
        ).user
        issued = users.create_token(SYSTEM, user.user_id, "test")
        return Person(user.user_id, email, issued.secret)

    return make


@pytest.fixture
def admin(make_user: MakeUser) -> Person:
    return make_user("admin")


@pytest.fixture
def api(app_client: TestClient, admin: Person) -> TestClient:
    """An API client acting as an admin."""
    app_client.headers.update(admin.headers)
    return app_client
