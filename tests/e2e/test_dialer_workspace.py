"""The agent workspace in an automatic campaign: the agent logs in and gets Ready on voice;
the dialing engine (inside ``callhopper serve``, on the telephony
simulator) connects an answered call, and the record opens with the call already
connected; the agent wraps it up with Done. In English and in Japanese."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from callhopper.demo import DEMO_PASSWORD, DOMAIN
from callhopper.web import messages as m
from tests.conftest import BACKENDS, PostgresTemplates
from tests.e2e.conftest import demo_server, new_context
from tests.e2e.server import LiveServer
from tests.e2e.test_workspace import Walk
from tests.e2e.workspace_setup import Admin

#: The simulator answers fast and often, so that a call comes within seconds.
FAST_NETWORK = {"CALLHOPPER_SIMULATOR_PERSON_SHARE": "0.6", "CALLHOPPER_SIMULATOR_SPEED": "10"}
CALL_WAIT_MS = 45_000


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_templates: PostgresTemplates | None,
) -> Iterator[LiveServer]:
    """A demo server whose simulator answers fast and often."""
    folder = tmp_path_factory.mktemp("dialer-server")
    yield from demo_server(request.param, folder, pg_templates, FAST_NETWORK)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_connected_call_opens_its_record_in_the_workspace(
    request: pytest.FixtureRequest, browser: Browser, server: LiveServer, admin: Admin, lang: str
) -> None:
    if lang != "en" and "postgresql" in request.node.callspec.id:
        pytest.skip("the Japanese page runs on SQLite; the English one on both databases")
    agent = f"erin{lang}"
    admin.agent(agent)
    queue_id = admin.queue(f"Dialer {lang}", [agent])
    campaign_id = admin.campaign(
        f"Progressive {lang}", queue_id, "progressive", rows=6, caller_ids=["+14155550100"]
    )
    admin.start(campaign_id)
    context = new_context(
        browser, server, locale="ja-JP" if lang == "ja" else "en-US", timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    walk = Walk(page, server, admin, lang, agent)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/signin")
        page.get_by_label(walk.t("Email")).fill(f"{agent}@{DOMAIN}")
        page.get_by_label(walk.t("Password")).fill(DEMO_PASSWORD)
        walk.button("Sign in").click()
        expect(page).to_have_url(re.compile(r"/workspace$"))
        row = walk.campaign_row(campaign_id)
        walk.button("Log in", row).click()
        walk.notice(m.LOGGED_IN, campaign=f"Progressive {lang}")
        voice = page.locator("#campaigns .channels li").filter(has_text=walk.t("Voice"))
        walk.button("Set Ready", voice).click()
        # Logged in, the Get Record / Stop toggle is on: calls come while Ready on voice.
        expect(walk.button("Stop", walk.campaign_row(campaign_id))).to_be_visible()
        record = walk.record_of(campaign_id)
        expect(record).to_have_count(1, timeout=CALL_WAIT_MS)
        status = record.locator(".connected")
        expect(status).to_be_visible()
        expect(record.get_by_role("button", name=walk.t("Call"), exact=True)).to_have_count(0)
        walk.shot("dialer-call-connected")
        walk.accessible("a connected call")
        record.get_by_label(walk.t("Wrap-up code")).select_option("sale")
        walk.button("Done", record).click()
        walk.notice(m.DONE)
        walk.gone(record)
        walk.shot("dialer-done")
    finally:
        context.close()
    assert context.foreign_requests == []  # type: ignore[attr-defined]
    assert errors == []
