"""The API docs page works from our own origin, with nothing loaded from a CDN."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.browser import screenshot

#: Swagger UI renders the whole schema in the browser: seconds on a busy machine.
RENDER_WAIT_MS = 30_000


def test_the_api_docs_load_from_our_own_origin(page: Page) -> None:
    page.goto("/docs")
    expect(page.get_by_text("/api/v1/agent/campaigns", exact=False).first).to_be_visible(
        timeout=RENDER_WAIT_MS
    )
    screenshot(page, "api-docs")
    assert page.context.foreign_requests == []  # type: ignore[attr-defined]
