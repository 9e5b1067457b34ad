"""Fixtures of the page tests: one server process per module, one browser per session.

The server runs ``callhopper serve`` on a database that ``callhopper demo --no-serve``
filled, on SQLite, and on PostgreSQL too when ``CALLHOPPER_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, PostgresTemplates
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.e2e.server import LiveServer, cli
from tests.e2e.workspace_setup import Admin

_MISSING = chromium_missing()
if _MISSING is not None:
    pytest.skip(_MISSING, allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402


def demo_server(
    backend: str,
    folder: Path,
    pg_templates: PostgresTemplates | None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """A `callhopper serve` process over a fresh demo database on ``backend``, stopped and
    its database dropped afterwards."""
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'callhopper.db'}"
    else:
        assert pg_templates is not None
        pg_name = pg_templates.create()
        url = pg_templates.url_for(pg_name)
    live = LiveServer(database_url=url, log_path=folder / "server.log", extra_env=extra_env or {})
    cli("demo", "--no-serve", env=live.env)
    live.start()
    yield live
    live.stop()
    if pg_name is not None:
        assert pg_templates is not None
        pg_templates.drop(pg_name)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_templates: PostgresTemplates | None,
) -> Iterator[LiveServer]:
    """A demo server for the tests of one module."""
    yield from demo_server(request.param, tmp_path_factory.mktemp("server"), pg_templates)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for the tests of one module. Not for the whole session: while Playwright's
    synchronous API is open it runs an event loop in the main thread, and the other tests
    that a worker runs meanwhile could not start an asyncio loop of their own."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def new_context(
    browser: Browser, server: LiveServer, locale: str = "en-US", **options: Any
) -> BrowserContext:
    """A fresh browser profile (no cookies) in ``locale`` (and Playwright's other context
    ``options``), every request to another origin refused and recorded in
    ``context.foreign_requests``."""
    context = browser.new_context(base_url=server.url, locale=locale, **options)
    foreign: list[str] = []

    def refuse_foreign(route: Any) -> None:
        foreign.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(server.url), refuse_foreign)
    context.foreign_requests = foreign  # type: ignore[attr-defined]
    return context


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = new_context(browser, server)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[Admin]:
    """An administrator on the API of the module's server."""
    admin = Admin(server.url)
    yield admin
    admin.close()
