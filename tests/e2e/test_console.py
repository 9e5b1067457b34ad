"""The console in a real browser against a real ``callhopper serve``: an administrator's
walk through contact lists, campaigns, the error monitor, campaign ownership and the
dashboard, in English and in Japanese, each step saving a screenshot; axe-core on the
campaign list, the campaign form, the ownership tab and the dashboard; a supervisor who
watches an agent's progress live and does not see the ownership actions; an agent refused.

Agents are driven through the HTTP API in the same test. Each walk uses names of its own
(``en-…``, ``ja-…``), so that the two walks never meet on the module's server.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from callhopper.demo import DEMO_PASSWORD, DOMAIN
from callhopper.web.console import campaigns as campaign_pages
from callhopper.web.console import (
    common,
    filter_builder,
    hopper,
    lists,
    mass_edit,
    ownership,
    skills,
    workflows,
)
from callhopper.web.i18n import translations
from tests.e2e.browser import PageWalk, screenshot
from tests.e2e.conftest import new_context
from tests.e2e.server import LiveServer
from tests.e2e.workspace_setup import ALL_DAY, Admin

#: How long a step waits for the server (imports, the dashboard's refresh every 3 s).
WAIT_MS = 20_000


class AgentApi:
    """An agent on the HTTP API (a login session, as the workspace holds)."""

    def __init__(self, url: str, email: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        response = self.http.post(
            "/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}
        )
        assert response.is_success, response.text

    def work_one(self, campaign_id: int, code: str = "interested") -> int:
        """Get Record, call, and close with ``code``; returns the record's id."""
        base = f"/api/v1/agent/campaigns/{campaign_id}"
        got = self.http.post(f"{base}/get-record")
        assert got.is_success, got.text
        delivery = got.json()["delivery"]
        assert delivery is not None, got.json()
        record = f"{base}/records/{delivery['record_id']}"
        assert self.http.post(f"{record}/call", json={}).is_success
        closed = self.http.post(f"{record}/done", json={"code": code})
        assert closed.status_code == 204, closed.text
        return int(delivery["record_id"])

    def close(self) -> None:
        self.http.close()


@dataclass
class Walk(PageWalk):
    """One administrator's walk through the console, in one language."""

    page: Page
    server: LiveServer
    admin: Admin
    lang: str
    folder: Path
    step: int = 0
    pages: ClassVar[str] = "console"
    latin_allowed: ClassVar[frozenset[str]] = frozenset(
        {"OK", "API", "HTTP", "CSV", "IANA", "FIFO", "LIFO", "ID", "UTF", "URL", "none"}
    )
    not_words: ClassVar[str] = '[translate="no"], script, style, template, option'
    # The mapping's fields are labelled with the file's own column names.
    check_names: ClassVar[bool] = False
    wait_ms: ClassVar[int] = WAIT_MS

    @property
    def prefix(self) -> str:
        return self.lang

    def csv_file(self, name: str, rows: list[dict[str, str]]) -> Path:
        path = self.folder / name
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path


WALKS = [
    pytest.param("en", "Europe/Paris", id="english"),
    pytest.param("ja", "Asia/Tokyo", id="japanese"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "zone"), WALKS)
def test_an_administrators_walk_through_the_console(
    request: pytest.FixtureRequest,
    browser: Browser,
    server: LiveServer,
    admin: Admin,
    tmp_path: Path,
    lang: str,
    zone: str,
) -> None:
    if lang != "en" and "postgresql" in request.node.callspec.id:
        pytest.skip("the walk in Japanese runs on SQLite; in English, on both databases")
    agent = admin.agent(f"{lang}-ann")
    admin.queue(f"{lang} floor", [f"{lang}-ann"])
    context = new_context(
        browser,
        server,
        locale="ja-JP" if lang == "ja" else "en-US",
        timezone_id=zone,
        viewport={"width": 1400, "height": 1000},
    )
    page = context.new_page()
    walk = Walk(page, server, admin, lang, tmp_path)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(walk, f"admin@{DOMAIN}")
        list_id = upload_a_list(walk)
        campaign_id = create_and_start_a_campaign(walk, list_id)
        fix_an_error_by_appending(walk, list_id, campaign_id)
        shared_list = release_ownership(walk, agent)
        mass_edit_leads(walk, shared_list)
        build_a_skill(walk)
        watch_the_dashboard(browser, walk, campaign_id, shared_list, agent)
    finally:
        context.close()
    assert context.foreign_requests == []  # type: ignore[attr-defined]
    assert errors == []


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "zone"), WALKS)
def test_a_supervisor_reads_the_hopper_and_an_administrator_writes_a_workflow_rule(
    request: pytest.FixtureRequest,
    browser: Browser,
    server: LiveServer,
    admin: Admin,
    tmp_path: Path,
    lang: str,
    zone: str,
) -> None:
    """The hopper view of a lead-ownership campaign with one agent logged in, and a
    workflow rule created from its form; axe-core on both pages, a screenshot of each."""
    if lang != "en" and "postgresql" in request.node.callspec.id:
        pytest.skip("in Japanese, on SQLite; in English, on both databases")
    p = f"{lang}-lo"
    email = admin.agent(f"{p}-amy")
    queue_id = admin.queue(f"{p} sales", [f"{p}-amy"])
    list_id = admin.contact_list(f"{p} leads", 3)
    records = admin.ok("GET", f"/contact-lists/{list_id}/records")
    for record in records[:2]:
        path = f"/contact-lists/{list_id}/records/{record['id']}/owner"
        admin.ok("PUT", path, {"owner": f"{p}-amy"})
    campaign = admin.ok(
        "POST",
        "/campaigns",
        {
            "name": f"{p} floor",
            "list_id": list_id,
            "queue_id": queue_id,
            "enforce_lead_ownership": True,
            "calling_window": ALL_DAY,
        },
    )
    admin.ok("POST", f"/campaigns/{campaign['id']}/start")
    amy = AgentApi(server.url, email)
    assert amy.http.post(f"/api/v1/agent/campaigns/{campaign['id']}/login").is_success
    admin.ok("POST", f"/campaigns/{campaign['id']}/hopper/load")
    context = new_context(
        browser, server, locale="ja-JP" if lang == "ja" else "en-US", timezone_id=zone
    )
    walk = Walk(context.new_page(), server, admin, lang, tmp_path, 70)
    try:
        sign_in(walk, f"admin@{DOMAIN}")
        page = walk.page
        page.goto(f"/console/campaigns/{campaign['id']}")
        page.get_by_role("link", name=walk.t("Hopper"), exact=True).click()
        expect(page.locator(f"#owned-{p}-amy .leads")).to_have_text("2")
        expect(page.locator(f"#dialable-{p}-amy .owned")).to_have_text("2")
        expect(page.locator("#hopper-leads tbody tr")).to_have_count(3)
        walk.accessible("hopper view")
        walk.shot("hopper")

        page.goto("/console/workflows")
        page.get_by_label(walk.t("Name"), exact=True).fill(f"{p} interested")
        page.get_by_label(walk.t("With one of these wrap-up codes (separated by commas)")).fill(
            "interested"
        )
        page.get_by_label(walk.t("The agent who wrapped up becomes the owner")).check()
        page.get_by_label(walk.t("Send a signed webhook to (one URL per line)")).fill(
            "https://crm.example.com/hooks/callhopper"
        )
        walk.accessible("workflow rules")
        walk.button("Create the rule").click()
        walk.notice(workflows.RULE_SAVED, rule=f"{p} interested")
        walk.shot("workflow-rule")
        page.get_by_role("link", name=walk.t("All workflow rules")).click()
        expect(page.locator("#rule-list")).to_contain_text(f"{p} interested")
        walk.accessible("workflow rule list")
        walk.shot("workflow-rules")
    finally:
        context.close()
        amy.close()
    assert context.foreign_requests == []  # type: ignore[attr-defined]


def sign_in(walk: Walk, email: str) -> None:
    page = walk.page
    page.goto("/signin")
    page.get_by_label(walk.t("Email")).fill(email)
    page.get_by_label(walk.t("Password")).fill(DEMO_PASSWORD)
    walk.button("Sign in").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    walk.shot("console")


def upload_a_list(walk: Walk) -> int:
    """A CSV with two bad rows and one row naming nobody, mapped with its agent-owned
    column; the progress bar, then the report with the rejections as CSV."""
    page, p = walk.page, walk.prefix
    rows = [
        {"account": f"{p}-{n}", "phone": f"(602) 555-{n + 10 * len(p):04d}", "agent": f"{p}-ann"}
        for n in range(1, 6)
    ]
    rows[1]["phone"] = "not a number"
    rows[3]["phone"] = "12"
    rows[4]["agent"] = f"{p}-nobody"
    path = walk.csv_file(f"{p}-accounts.csv", rows)
    page.goto("/console/lists")
    page.get_by_role("link", name=walk.t("Upload a new list")).click()
    page.get_by_label(walk.t("CSV file")).set_input_files(str(path))
    walk.button("Preview").click()
    expect(page.locator("table.preview")).to_contain_text("not a number")
    page.get_by_label(walk.t("Name of the list")).fill(f"{p} accounts")
    page.get_by_label(walk.t("%(field)s is the key column", field="account")).check()
    page.get_by_label(
        walk.t("%(field)s names the agent who owns the record", field="agent")
    ).check()
    page.get_by_label(
        walk.t(
            "Time zone when none can be found (IANA name, e.g. %(example)s)",
            example="America/Chicago",
        )
    ).fill("America/Phoenix")
    walk.shot("mapping")
    walk.button("Create the list and import").click()
    walk.notice(lists.LIST_CREATED, list=f"{p} accounts")
    expect(page.locator("progress#import-progress")).to_be_visible()
    walk.shot("progress")
    expect(page.locator("#import-run")).to_contain_text(walk.t("Import finished."), timeout=WAIT_MS)
    expect(page.locator("#rows-rejected")).to_have_text("2")
    with page.expect_download() as download:
        page.get_by_role("link", name=walk.t("Download the rejection report (CSV)")).click()
    report = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert [r[0] for r in report] == ["line", "3", "5"]
    walk.shot("report")
    found = re.search(r"/console/lists/(\d+)/", page.url)
    assert found is not None
    return int(found.group(1))


def create_and_start_a_campaign(walk: Walk, list_id: int) -> int:
    """An agent-owned preview campaign made with the form, started from it; the campaign
    list's agent-owned icon opens its error monitor."""
    page, p = walk.page, walk.prefix
    page.goto("/console/campaigns")
    page.get_by_role("link", name=walk.t("New campaign")).click()
    page.get_by_label(walk.t("Name"), exact=True).fill(f"{p} collections")
    page.get_by_label(walk.t("Contact list"), exact=True).select_option(str(list_id))
    page.get_by_label(walk.t("Queue"), exact=True).select_option(label=f"{p} floor")
    page.get_by_label(walk.t("Agent-owned column"), exact=True).fill("agent")
    page.get_by_label(walk.t("From"), exact=True).fill("00:00")
    page.get_by_label(walk.t("Until"), exact=True).fill("24:00")
    walk.accessible("the new campaign form")
    walk.shot("campaign-form")
    walk.button("Create the campaign").click()
    walk.notice(campaign_pages.SAVED, campaign=f"{p} collections")
    expect(page.get_by_label(walk.t("Dialing mode"), exact=True)).to_be_disabled()
    expect(page.locator("#mode-why")).to_have_text(walk.t(campaign_pages.FIXED_REASON["mode"]))
    walk.accessible("the campaign form")
    found = re.search(r"/console/campaigns/(\d+)$", page.url)
    assert found is not None
    campaign_id = int(found.group(1))
    walk.button("Start").click()
    walk.notice(
        campaign_pages.ACTION_DONE[campaign_pages.CampaignAction.START], campaign=f"{p} collections"
    )
    page.goto("/console/campaigns")
    row = page.locator(f"#campaign-{campaign_id}")
    expect(row).to_contain_text(walk.t("Running"))
    walk.accessible("the campaign list")
    walk.shot("campaigns")
    row.get_by_role("link", name=walk.t("Error monitor")).click()
    expect(page.locator("#errors-unknown_user_id .count")).to_have_text("1")
    walk.shot("error-monitor")
    return campaign_id


def fix_an_error_by_appending(walk: Walk, list_id: int, campaign_id: int) -> None:
    """The row naming nobody, fixed and appended: the error is gone without a recycle."""
    page, p = walk.page, walk.prefix
    fixed = walk.csv_file(
        f"{p}-fixed.csv", [{"account": f"{p}-5", "phone": "(602) 555-0099", "agent": f"{p}-ann"}]
    )
    page.get_by_role("link", name=walk.t("Append a fixed file to the list")).click()
    page.get_by_label(walk.t("CSV file")).set_input_files(str(fixed))
    walk.button("Preview").click()
    expect(page.get_by_label(walk.t("A row whose key is already in the list"))).to_have_value(
        "update"
    )
    walk.button("Import").click()
    expect(page.locator("#import-run")).to_contain_text(walk.t("Import finished."), timeout=WAIT_MS)
    page.goto(f"/console/campaigns/{campaign_id}/errors")
    expect(page.locator("#errors-unknown_user_id .count")).to_have_text("0")
    walk.shot("error-fixed")


def release_ownership(walk: Walk, agent: str) -> int:
    """Two campaigns on one list each own a record; one is released, then all."""
    page, admin, p = walk.page, walk.admin, walk.prefix
    queue_id = admin.queue(f"{p} shared floor", [f"{p}-ann"])
    list_id = admin.contact_list(f"{p} shared", 4)
    ids = [
        int(
            admin.ok(
                "POST",
                "/campaigns",
                {
                    "name": f"{p} shared {n}",
                    "list_id": list_id,
                    "queue_id": queue_id,
                    "mode": "preview",
                    "sort": [{"column": "account"}],
                    "calling_window": ALL_DAY,
                },
            )["id"]
        )
        for n in (1, 2)
    ]
    page.goto(f"/console/lists/{list_id}")
    page.get_by_role("link", name=walk.t("Campaign Ownership")).click()
    page.get_by_label(walk.t("Enable Campaign Ownership of Records")).check()
    page.get_by_label(walk.t("Days")).fill("1")
    walk.button("Save").click()
    walk.notice(ownership.SETTINGS_SAVED)
    agent_api = AgentApi(walk.server.url, agent)
    try:
        worked = []
        for campaign_id in ids:
            admin.start(campaign_id)
            worked.append(agent_api.work_one(campaign_id))
    finally:
        agent_api.close()
    why_not(walk, list_id, worked, ids, queue_id)
    page.goto(f"/console/lists/{list_id}/ownership")
    walk.button("Refresh").click()
    box = page.get_by_label(walk.t("Release ownership of all records for campaigns"))
    for n in (1, 2):
        expect(box).to_contain_text(f"{p} shared {n}")
    walk.accessible("the ownership tab")
    walk.shot("ownership")
    box.select_option(str(ids[0]))
    walk.button("Release").click()
    walk.notice(ownership.RELEASED, n="1")
    expect(box).not_to_contain_text(f"{p} shared 1")
    expect(box).to_contain_text(f"{p} shared 2")
    box.select_option(ownership.ALL)
    walk.button("Release").click()
    walk.notice(ownership.RELEASED, n="1")
    expect(box.locator("option")).to_have_count(1)  # All Campaigns alone
    walk.shot("released")
    return list_id


def why_not(walk: Walk, list_id: int, worked: list[int], ids: list[int], queue_id: int) -> None:
    """From a record's page: held by another campaign; outside a campaign's window."""
    page, p = walk.page, walk.prefix
    hour = datetime.now(ZoneInfo("America/Phoenix")).hour
    window = {"start": f"{(hour + 2) % 24:02d}:00", "end": f"{(hour + 3) % 24:02d}:00"}
    if window["end"] == "00:00":
        window["end"] = "24:00"
    late = walk.admin.ok(
        "POST",
        "/campaigns",
        {"name": f"{p} late", "list_id": list_id, "queue_id": queue_id, "calling_window": window},
    )["id"]
    walk.admin.start(int(late))
    page.goto(f"/console/lists/{list_id}/records/{worked[0]}")
    page.get_by_role(
        "link", name=walk.t("Why not? Can this record be delivered now, and if not, why")
    ).click()
    page.get_by_label(walk.t("Campaign")).select_option(str(ids[1]))
    walk.button("Ask").click()
    owned = page.locator('#why-answer [data-reason="owned_by_another_campaign"]')
    expect(owned).to_contain_text(f"{p} shared 1")
    walk.shot("why-owned")
    page.get_by_label(walk.t("Campaign")).select_option(str(late))
    walk.button("Ask").click()
    closed = page.locator('#why-answer [data-reason="outside_calling_window"]')
    expect(closed).to_contain_text(window["start"])
    expect(closed).to_contain_text("America/Phoenix")
    walk.shot("why-window")


def mass_edit_leads(walk: Walk, list_id: int) -> None:
    """The shared list's leads, distributed over one agent: a dry run, a confirmation, and
    the audit entries of the change."""
    page, p = walk.page, walk.prefix
    page.goto(f"/console/lists/{list_id}")
    page.get_by_role("link", name=walk.t("Mass Edit Leads")).click()
    page.get_by_label(walk.t("Only leads of this owner (user id, or none; empty: any)")).fill(
        "none"
    )
    page.get_by_label(walk.t("Distribute them evenly over these agents")).check()
    page.get_by_label(walk.t("The agents to distribute over (user ids, separated by commas)")).fill(
        f"{p}-ann"
    )
    page.get_by_label(walk.t("Why (written in the audit log)")).fill(f"{p} walk")
    walk.button("Count (dry run)").click()
    expect(page.locator("#matched")).to_have_text("4")
    # The sample: the leads that would change, each without an owner now, all to the agent.
    sample = page.locator("#dry-run-sample tbody tr")
    expect(sample).to_have_count(4)
    expect(page.locator("#dry-run-sample .owner-now").first).to_have_text(
        walk.t("none (general pool)")
    )
    expect(page.locator("#dry-run-sample .owner-after").last).to_have_text(f"{p}-ann")
    walk.accessible("mass edit")
    walk.shot("mass-edit-dry-run")
    confirm = walk.t("Confirm: change the owner of %(n)s leads", n="4")
    page.get_by_role("button", name=confirm, exact=True).click()
    walk.notice(mass_edit.CHANGED, n="4")
    expect(page.locator("#owner-audit")).to_contain_text(f"mass edit: {p} walk")
    walk.shot("mass-edit-audit")


def build_a_skill(walk: Walk) -> None:
    """A lead filter of two groups (both must hold) or a second set, built with the
    builder's add buttons (htmx redraws the builder), saved as a skill and given to the
    walk's agent."""
    page, p = walk.page, walk.prefix
    page.goto("/console/skills")
    page.get_by_label(walk.t("Name of the skill")).fill(f"{p} big accounts")
    page.locator("#filter-field-0-0-0").fill("account")
    page.locator("#filter-op-0-0-0").select_option("not empty")
    page.get_by_role("button", name=walk.t("Add group to set %(s)s", s="1"), exact=True).click()
    page.locator("#filter-field-0-1-0").fill("notes")
    page.locator("#filter-op-0-1-0").select_option("empty")
    page.get_by_role("button", name=walk.t("Add set"), exact=True).click()
    page.locator("#filter-field-1-0-0").fill("account")
    page.locator("#filter-op-1-0-0").select_option("in")
    page.locator("#filter-value-1-0-0").fill(f"{p}-1, {p}-2")
    # The first fields survived both redraws.
    expect(page.locator("#filter-field-0-0-0")).to_have_value("account")
    expect(page.locator("#filter-builder .filter-group")).to_have_count(3)
    walk.accessible("skill builder")
    walk.shot("skill-builder")
    walk.button("Save the skill").click()
    text = f'(account not empty and notes empty) or account in ("{p}-1", "{p}-2")'
    walk.notice(skills.SKILL_SAVED, skill=f"{p} big accounts", filter=text)
    row = page.locator("#skill-list tr", has_text=f"{p} big accounts")
    row.get_by_role("listbox").select_option(f"{p}-ann")
    walk.button("Give", row).click()
    walk.notice(skills.SKILLS_GIVEN, skill=f"{p} big accounts", n="1")
    walk.shot("skill-given")


def watch_the_dashboard(
    browser: Browser, walk: Walk, campaign_id: int, shared_list: int, agent: str
) -> None:
    """The supervisor's dashboard follows the agent's work; the ownership tab shows the
    supervisor its configuration but not its actions; an agent is refused the console."""
    context = new_context(
        browser,
        walk.server,
        locale="ja-JP" if walk.lang == "ja" else "en-US",
        viewport={"width": 1400, "height": 1000},
    )
    supervisor = Walk(context.new_page(), walk.server, walk.admin, walk.lang, walk.folder, 50)
    try:
        sign_in(supervisor, f"supervisor@{DOMAIN}")
        page = supervisor.page
        page.goto(f"/console/dashboard?campaign={campaign_id}")
        handled = page.locator(f"#agent-{walk.prefix}-ann .handled")
        expect(handled).to_have_text("0")
        supervisor.accessible("the dashboard")
        supervisor.shot("dashboard")
        agent_api = AgentApi(walk.server.url, agent)
        try:
            agent_api.work_one(campaign_id)
            expect(handled).to_have_text("1", timeout=WAIT_MS)
            agent_api.work_one(campaign_id)
            expect(handled).to_have_text("2", timeout=WAIT_MS)
        finally:
            agent_api.close()
        supervisor.shot("dashboard-live")
        page.goto(f"/console/lists/{shared_list}")
        page.get_by_role("link", name=supervisor.t("Campaign Ownership")).click()
        expect(page.locator("#configuration-title")).to_be_visible()
        expect(page.locator("#ownership-actions")).to_have_count(0)
        supervisor.shot("ownership-supervisor")
    finally:
        context.close()
    refused_agent(browser, walk, agent)


def refused_agent(browser: Browser, walk: Walk, agent: str) -> None:
    context = new_context(browser, walk.server, locale="ja-JP" if walk.lang == "ja" else "en-US")
    page = context.new_page()
    try:
        page.goto("/signin")
        page.get_by_label(walk.t("Email")).fill(agent)
        page.get_by_label(walk.t("Password")).fill(DEMO_PASSWORD)
        page.get_by_role("button", name=walk.t("Sign in"), exact=True).click()
        expect(page).to_have_url(re.compile(r"/workspace$"))
        response = page.goto("/console/campaigns")
        assert response is not None and response.status == 403
        expect(page.locator("#messages")).to_contain_text(walk.t(common.REFUSED))
        screenshot(page, f"console-{walk.lang}-99-agent-refused")
    finally:
        context.close()


def test_every_string_of_the_console_has_a_japanese_translation() -> None:
    """The console's sentences in the Japanese catalogue (the catalogue test checks every
    string of the pages; this one fails on the console's by name)."""
    catalogue = translations("ja")
    sentences: list[Any] = [
        common.REFUSED,
        lists.LIST_CREATED,
        ownership.RELEASED,
        *campaign_pages.FIXED_REASON.values(),
        *filter_builder.OPS.values(),
        hopper.LOADED,
        workflows.RULE_SAVED,
        workflows.RULE_DELETED,
        *workflows.STAGES.values(),
        *workflows.OWNER_ACTIONS.values(),
    ]
    assert [s for s in sentences if catalogue.gettext(s) == s] == []
