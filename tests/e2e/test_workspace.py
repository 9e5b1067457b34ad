"""The agent workspace in a real browser against a real ``callhopper serve``: an agent's day,
in English and in Japanese, each step saving a screenshot; axe-core on the sign-in page, My
Campaigns and the record; nothing loaded from another origin; the page under 200 KB.

Each walk runs as its own demo agent (alice in English, bob in Japanese) over the demo's
agent-owned preview campaign, plus campaigns of its own (push preview, direct push preview,
preview with a timeout) in a queue of its own, so that the two walks never meet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from websockets.sync.client import connect as ws_connect

from callhopper.demo import DEMO_PASSWORD, DOMAIN
from callhopper.web import messages as m
from callhopper.web.i18n import translations
from tests.e2e.browser import PageWalk
from tests.e2e.conftest import new_context
from tests.e2e.server import LiveServer
from tests.e2e.workspace_setup import Admin, csrf_token, signed_in

#: How long a step may wait for what the server pushes (timers run about every second).
PUSH_WAIT_MS = 20_000
ACCEPT_TIMEOUT_S = 4
PREVIEW_TIMEOUT_S = 4
#: The whole workspace page, scripts and styles included.
PAGE_BUDGET_BYTES = 200_000
DEMO_CAMPAIGN = 1
DEMO_LIST = 1


@dataclass
class Walk(PageWalk):
    """One agent's walk through the workspace, in one language."""

    page: Page
    server: LiveServer
    admin: Admin
    lang: str
    agent: str
    step: int = 0
    weights: dict[str, int] = field(default_factory=dict)
    pages: ClassVar[str] = "workspace"
    wait_ms: ClassVar[int] = PUSH_WAIT_MS

    def campaign_row(self, campaign_id: int) -> Locator:
        return self.page.locator(f"#campaign-{campaign_id}")

    def records(self) -> Locator:
        return self.page.locator("section.record")

    def record_of(self, campaign_id: int) -> Locator:
        return self.page.locator(f'section.record[data-campaign="{campaign_id}"]')

    def get_record(self, campaign_id: int, *, by_key: bool = False) -> Locator:
        """Get Record (``by_key``: with its shortcut); the record comes with the focus."""
        assert self.record_of(campaign_id).count() == 0
        if by_key:
            self.page.keyboard.press("Alt+Shift+G")
        else:
            self.button("Get Record", self.campaign_row(campaign_id)).click()
        record = self.record_of(campaign_id)
        expect(record).to_have_count(1)
        expect(record.locator("h2")).to_be_focused()  # the new record gets the focus
        return record

    def gone(self, record: Locator) -> None:
        expect(record).to_have_count(0)


WALKS = [
    pytest.param("en", "alice", "Europe/Paris", id="english"),
    pytest.param("ja", "bob", "Asia/Tokyo", id="japanese"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "agent", "zone"), WALKS)
def test_an_agents_day_in_the_workspace(
    request: pytest.FixtureRequest,
    browser: Browser,
    server: LiveServer,
    admin: Admin,
    lang: str,
    agent: str,
    zone: str,
) -> None:
    if lang != "en" and "postgresql" in request.node.callspec.id:
        # The database behind the page is walked in English; the language, on SQLite.
        pytest.skip("the walk in Japanese runs on SQLite; in English, on both databases")
    context = new_context(
        browser,
        server,
        locale="ja-JP" if lang == "ja" else "en-US",
        timezone_id=zone,
        viewport={"width": 1400, "height": 1000},
    )
    page = context.new_page()
    walk = Walk(page, server, admin, lang, agent)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(walk)
        demo_campaign(walk)
        push_preview(walk)
        direct_push_preview(walk)
        preview_timeout(walk)
        connection_drop(walk)
    finally:
        context.close()
    assert context.foreign_requests == []  # type: ignore[attr-defined]
    assert errors == []


def sign_in(walk: Walk) -> None:
    page = walk.page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin"))
    walk.accessible("sign-in")
    page.get_by_label(walk.t("Email")).fill(f"{walk.agent}@{DOMAIN}")
    page.get_by_label(walk.t("Password")).fill("not the password")
    walk.button("Sign in").click()
    walk.notice(m.SIGN_IN_FAILED)
    walk.shot("sign-in-wrong-password")
    page.get_by_label(walk.t("Password")).fill(DEMO_PASSWORD)
    walk.button("Sign in").click()
    expect(page).to_have_url(re.compile(r"/workspace$"))
    expect(page.get_by_role("heading", name=walk.t("My Campaigns"))).to_be_visible()
    walk.accessible("My Campaigns")
    walk.shot("my-campaigns")


def weight(page: Page) -> dict[str, int]:
    """The bytes of the page and of everything it loaded (stylesheet, scripts, icon), by
    URL, read again with the page's cookies."""
    urls = page.evaluate(
        """() => [location.href, ...performance.getEntriesByType('resource')
            .filter((e) => !['fetch', 'xmlhttprequest'].includes(e.initiatorType))
            .map((e) => e.name)]"""
    )
    return {url: len(page.request.get(url).body()) for url in dict.fromkeys(urls)}


def demo_campaign(walk: Walk) -> None:
    """Get Record in the agent-owned demo campaign; fields, wrap-up and Done; Skip; Decline;
    callbacks; Done and Stop, then Get Record again."""
    page, t = walk.page, walk.t
    record = walk.get_record(DEMO_CAMPAIGN)
    walk.accessible("the record")
    walk.shot("record")
    record_id = int(record.get_attribute("data-record") or 0)
    record.locator('input[name="field.notes"]').fill("Promised to pay on Friday")
    record.locator('input[type="checkbox"][name="field.paid"]').check()
    record.locator('input[name="field.promise_date"]').fill("2030-01-15T10:30")
    record.locator('select[name="field.outcome"]').select_option("promise to pay")
    record.get_by_label(t("Wrap-up code")).select_option("interested")
    record.get_by_label(t("Note"), exact=True).fill("Will pay the balance on Friday")
    walk.button("Save wrap-up", record).click()
    walk.notice(m.WRAPUP_SAVED)
    walk.shot("record-fields-edited")
    page.keyboard.press("Alt+Shift+D")  # Done
    walk.notice(m.DONE)
    walk.gone(record)
    data = walk.admin.record(DEMO_LIST, record_id)["data"]
    assert data["notes"] == "Promised to pay on Friday"
    assert data["paid"] == "true"
    assert data["promise_date"] == "2030-01-15T10:30:00"
    assert data["outcome"] == "promise to pay"
    walk.shot("done")

    record = walk.get_record(DEMO_CAMPAIGN)
    walk.button("Skip", record).click()
    walk.notice(m.SKIPPED)
    walk.gone(record)
    walk.shot("skipped")

    record = walk.get_record(DEMO_CAMPAIGN, by_key=True)
    first_number = record.locator(".call label span[translate=no]").first.inner_text()
    page.keyboard.press("Alt+Shift+C")  # Call
    walk.notice(m.CALLING, number=first_number)
    expect(record.locator(".history")).to_contain_text(first_number)
    record.get_by_label(t("Do not call this contact")).check()
    walk.button("Decline", record).click()
    walk.notice(m.DECLINED_DNC)
    walk.gone(record)
    walk.shot("declined-do-not-call")

    record = walk.get_record(DEMO_CAMPAIGN)
    callbacks(walk, record)
    record.get_by_label(t("Wrap-up code")).select_option("no_answer")
    walk.button("Done and Stop", record).click()
    walk.notice(m.DONE_AND_STOP, campaign="Demo collections")
    walk.gone(record)
    walk.shot("done-and-stop")
    walk.get_record(DEMO_CAMPAIGN)  # Get Record again: stays on screen for the last step
    walk.shot("get-record-again")
    page.reload()  # the whole page as the server writes it with a record
    expect(walk.record_of(DEMO_CAMPAIGN).locator("h2")).to_be_focused()
    weights = weight(page)
    assert len(weights) >= 5 and sum(weights.values()) < PAGE_BUDGET_BYTES, weights


def callbacks(walk: Walk, record: Locator) -> None:
    """A callback in the past is refused; a personal one is scheduled, changed, cancelled."""
    t = walk.t
    record.locator(".callback summary").click()
    when = record.locator('input[name="at"]')
    when.fill("2020-01-06T10:00")
    walk.button("Schedule callback", record).click()
    walk.notice(m.CALLBACK_IN_PAST)
    walk.shot("callback-in-the-past")
    day = date.today() + timedelta(days=3)
    when.fill(f"{day.isoformat()}T11:00")
    expect(record.locator(".your-time")).to_contain_text(t("Your time: %(time)s").split("%")[0])
    walk.button("Schedule callback", record).click()
    expect(record.locator(".scheduled")).to_contain_text(t("back to you"))
    expect(record.locator(".callback summary")).to_have_text(t("Scheduled Callback"))
    walk.shot("callback-personal")
    when.fill(f"{day.isoformat()}T15:30")
    record.get_by_label(t("Any agent of the queue")).check()
    walk.button("Change callback", record).click()
    expect(record.locator(".scheduled")).to_contain_text(t("for any agent of the queue"))
    walk.shot("callback-changed")
    walk.button("Cancel callback", record).click()
    walk.notice(m.CALLBACK_CANCELLED)
    expect(record.locator(".scheduled")).to_have_count(0)
    walk.shot("callback-cancelled")


def start_campaign(walk: Walk, mode: str, **settings: Any) -> int:
    """A started campaign of ``mode`` for the walk's agent alone; its Campaign Started
    notice comes up on the page."""
    name = f"{mode.replace('_', ' ').title()} {walk.agent}"
    queue = walk.admin.queue(f"{name} queue", [walk.agent])
    campaign_id = walk.admin.campaign(name, queue, mode, **settings)
    walk.admin.start(campaign_id)
    dialog = walk.page.locator("dialog#notice")
    expect(dialog).to_be_visible(timeout=PUSH_WAIT_MS)
    expect(dialog).to_contain_text(walk.t("Campaign Started"))
    expect(dialog).to_contain_text(name)
    expect(walk.campaign_row(campaign_id)).to_be_visible()
    return campaign_id


def push_preview(walk: Walk) -> None:
    """Push preview: ready on outbound preview, Accept, Done; the next one not accepted in
    time goes back and leaves the agent not ready."""
    page = walk.page
    campaign_id = start_campaign(walk, "push_preview", accept_timeout_s=ACCEPT_TIMEOUT_S)
    walk.shot("push-campaign-started")
    walk.button("OK", page.locator("dialog#notice")).click()
    expect(page.locator("dialog#notice")).to_be_hidden()
    walk.button("Log in", walk.campaign_row(campaign_id)).click()
    walk.notice(m.LOGGED_IN, campaign=f"Push Preview {walk.agent}")
    channel = page.locator("#campaigns .channels li").filter(has_text=walk.t("Outbound preview"))
    walk.button("Set Ready", channel).click()
    record = walk.record_of(campaign_id)
    expect(record).to_have_count(1, timeout=PUSH_WAIT_MS)
    expect(record.locator(".countdown")).to_contain_text(
        walk.t("Accept within %(s)s s").split("%")[0].strip()
    )
    walk.shot("push-record")
    walk.button("Accept", record).click()
    walk.notice(m.ACCEPTED)
    expect(walk.button("Accept", record)).to_have_count(0)
    record.get_by_label(walk.t("Wrap-up code")).select_option("busy")
    walk.button("Done", record).click()
    walk.notice(m.DONE)
    # Still ready: the next record comes; nobody accepts it.
    expect(record.locator(".countdown")).to_be_visible(timeout=PUSH_WAIT_MS)
    walk.notice(m.ENDED["accept_timeout"])
    expect(record).to_have_count(0)
    expect(channel.locator(".state")).to_have_text(walk.t("Not Ready"))
    walk.shot("push-accept-timeout-not-ready")


def direct_push_preview(walk: Walk) -> None:
    """Direct push preview: Get Record (from the Campaign Started notice) turns delivery
    on, a record comes; Stop turns it off."""
    page = walk.page
    campaign_id = start_campaign(walk, "direct_push_preview")
    walk.button("Get Record", page.locator("dialog#notice")).click()
    expect(page.locator("dialog#notice")).to_be_hidden()
    row = walk.campaign_row(campaign_id)
    expect(walk.button("Stop", row)).to_be_visible()
    record = walk.record_of(campaign_id)
    expect(record).to_have_count(1, timeout=PUSH_WAIT_MS)
    walk.shot("direct-push-record")
    walk.button("Stop", row).click()
    walk.notice(m.RECEIVING_OFF, campaign=f"Direct Push Preview {walk.agent}")
    expect(walk.button("Get Record", row)).to_be_visible()
    walk.shot("direct-push-stopped")
    walk.button("Reject", record).click()
    walk.notice(m.REJECTED)
    expect(record).to_have_count(0)


def preview_timeout(walk: Walk) -> None:
    """A preview campaign with a timeout: the countdown runs out and the call is made."""
    page = walk.page
    campaign_id = start_campaign(walk, "preview", preview_timeout_s=PREVIEW_TIMEOUT_S)
    walk.button("Get Record", page.locator("dialog#notice")).click()
    record = walk.record_of(campaign_id)
    expect(record).to_have_count(1, timeout=PUSH_WAIT_MS)
    expect(record.locator(".countdown")).to_contain_text(
        walk.t("Automatic call in %(s)s s").split("%")[0].strip()
    )
    walk.shot("preview-countdown")
    first_number = record.locator(".call label span[translate=no]").first.inner_text()
    walk.notice(m.AUTO_DIALLED, number=first_number)
    expect(record.locator(".history")).to_contain_text(
        walk.t("Automatic call: the preview time ran out"), timeout=PUSH_WAIT_MS
    )
    walk.shot("preview-auto-dialled")
    record.get_by_label(walk.t("Wrap-up code")).select_option("no_answer")
    walk.button("Done", record).click()
    walk.notice(m.DONE)
    expect(record).to_have_count(0)


def connection_drop(walk: Walk) -> None:
    """The server goes away: a banner; it comes back: the page reconnects by itself, and the
    record on screen is still there, once."""
    page = walk.page
    record = walk.record_of(DEMO_CAMPAIGN)
    expect(record).to_have_count(1)
    key = record.get_attribute("id")
    walk.server.stop()
    banner = page.locator("#connection")
    expect(banner).to_be_visible(timeout=PUSH_WAIT_MS)
    expect(banner).to_have_text(walk.t(m.CONNECTION_LOST))
    walk.shot("connection-lost")
    walk.server.start()
    expect(banner).to_be_hidden(timeout=PUSH_WAIT_MS)
    walk.notice(m.RECONNECTED)
    expect(page.locator(f"#{key}")).to_have_count(1)
    expect(walk.records()).to_have_count(1)
    walk.shot("reconnected-same-record")


# --- one agent cannot reach another's record ------------------------------------------------------

ACTIONS = ("call", "skip", "decline", "wrapup", "done", "accept", "reject", "callback")


def test_no_page_form_or_socket_of_one_agent_reaches_another_agents_record(
    server: LiveServer, admin: Admin
) -> None:
    admin.agent("erin")
    admin.agent("frank")
    queue = admin.queue("Isolation queue", ["erin", "frank"])
    campaign_id = admin.campaign("Isolation", queue, "preview", rows=3)
    admin.start(campaign_id)
    frank = signed_in(server.url, f"frank@{DOMAIN}")
    held = frank.post(
        f"/workspace/campaigns/{campaign_id}/get-record",
        data={"csrf_token": csrf_token(frank.get("/workspace").text)},
    )
    assert held.status_code == 303
    found = re.search(r"#record-(\d+)-(\d+)$", held.headers["location"])
    assert found is not None
    record_id = int(found.group(2))
    base = f"/workspace/campaigns/{campaign_id}/records/{record_id}"
    his = frank.get(base, headers={"HX-Request": "true"})
    assert his.status_code == 200
    # What would give frank's record away: its account and its numbers.
    secrets = [re.search(r"ISO-\d{3}", his.text).group(0)]  # type: ignore[union-attr]
    secrets += re.findall(r"\+1602\d{7}", his.text)
    assert len(secrets) == 3

    erin = signed_in(server.url, f"erin@{DOMAIN}")
    token = csrf_token(erin.get("/workspace").text)

    def refused(response: Any) -> None:
        assert response.status_code == 404, (response.request.url, response.status_code)
        assert "text/html" in response.headers["content-type"]
        assert not any(secret in response.text for secret in secrets), response.request.url

    for headers in ({}, {"HX-Request": "true"}):
        refused(erin.get(base, headers=headers))
        for action in ACTIONS:
            refused(
                erin.post(
                    f"{base}/{action}",
                    headers=headers,
                    data={
                        "csrf_token": token,
                        "action": "do_not_call",
                        "code": "sale",
                        "at": "2030-01-07T11:00",
                    },
                )
            )
        refused(erin.post(f"{base}/callback/cancel", headers=headers, data={"csrf_token": token}))
    refused(
        erin.post(f"/workspace/campaigns/{DEMO_CAMPAIGN}/get-record", data={"csrf_token": token})
    )
    for page in ("/workspace", "/workspace/records", "/workspace/campaigns"):
        shown = erin.get(page, headers={"HX-Request": "true"})
        assert shown.status_code == 200
        assert not any(secret in shown.text for secret in secrets)

    # Erin's live channel carries nothing of frank's.
    cookie = f"callhopper_session={erin.cookies['callhopper_session']}"
    with ws_connect(
        f"ws{server.url[4:]}/api/v1/agent/ws", additional_headers={"Cookie": cookie}
    ) as ws:
        received = [ws.recv(timeout=10)]
        ws.send("ping")
        while '"pong"' not in received[-1]:
            received.append(ws.recv(timeout=10))
    assert json.loads(received[0])["type"] == "hello"
    assert not any('"delivery"' in r or any(s in r for s in secrets) for r in received)

    # Frank's record is untouched, still his.
    still = frank.get(base, headers={"HX-Request": "true"})
    assert still.status_code == 200 and secrets[0] in still.text

    # A form without this session's CSRF token is refused, with a page, not JSON.
    for data in ({}, {"csrf_token": csrf_token(frank.get("/workspace").text)}):
        missing = erin.post(f"/workspace/campaigns/{campaign_id}/login", data=data)
        assert missing.status_code == 403
        assert missing.headers["content-type"].startswith("text/html")
        assert translations("en").gettext(m.FORM_EXPIRED) in missing.text
    assert erin.post("/signout", data={}).status_code == 403
    frank.close()
    erin.close()
