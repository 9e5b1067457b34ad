"""The console's administration pages in a real browser against a real ``callhopper serve``:
roles and rights (a custom role given to an agent), wrap-up code sets, calling windows
(set from the page, checked in a zone) and staleness rules (created and run, the run
listed), in English and in Japanese, each step saving a screenshot and each page checked
by axe-core; a Japanese page shows no English word.

The walk is that of :mod:`tests.e2e.test_console` (its ``Walk``, sign-in and languages),
on a server of its own; its names start with the walk's language (``en-…``, ``ja-…``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from callhopper.demo import DOMAIN
from callhopper.domain.calling_window import CallingWindow
from callhopper.web.console import common, people, roles, staleness, windows, wrapup
from callhopper.web.i18n import translations
from tests.e2e.conftest import new_context
from tests.e2e.server import LiveServer
from tests.e2e.test_console import WALKS, Walk, sign_in
from tests.e2e.workspace_setup import Admin


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "zone"), WALKS)
def test_an_administrator_sets_up_roles_codes_windows_and_staleness_rules(
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
    admin.agent(f"{lang}-kai")
    context = new_context(
        browser,
        server,
        locale="ja-JP" if lang == "ja" else "en-US",
        timezone_id=zone,
        viewport={"width": 1400, "height": 1000},
    )
    walk = Walk(context.new_page(), server, admin, lang, tmp_path, step=70)
    errors: list[str] = []
    walk.page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(walk, f"admin@{DOMAIN}")
        make_a_role(walk)
        change_wrap_up_codes(walk)
        set_a_calling_window(walk)
        run_a_staleness_rule(walk)
    finally:
        context.close()
    assert context.foreign_requests == []  # type: ignore[attr-defined]
    assert errors == []


def make_a_role(walk: Walk) -> None:
    """A supervisor without the audit log, given to an agent on the users page."""
    page, p = walk.page, walk.prefix
    page.goto("/console/roles")
    page.get_by_label(walk.t("Name of the role")).fill(f"{p} floor lead")
    page.get_by_label(walk.t("Based on the role")).select_option("supervisor")
    page.locator("#without-audit\\.view").check()
    walk.accessible("the roles")
    walk.shot("roles")
    walk.button("Create the role").click()
    walk.notice(roles.ROLE_CREATED, role=f"{p} floor lead", n="1")
    expect(page.locator("#role-list")).to_contain_text(f"{p} floor lead")
    walk.shot("role-created")
    page.goto("/console/users")
    row = page.locator(f"#user-{p}-kai")
    row.locator("select[name=role]").select_option(f"{p} floor lead")
    walk.button("Give the role", row).click()
    walk.notice(people.ROLE_GIVEN, user=f"{p}-kai", role=f"{p} floor lead")
    walk.shot("role-given")


def change_wrap_up_codes(walk: Walk) -> None:
    """A set copied from the default codes, one code changed, a bad one refused."""
    page, p = walk.page, walk.prefix
    page.goto("/console/wrapup")
    page.get_by_label(walk.t("Name of the set")).fill(f"{p} retention")
    walk.accessible("the wrap-up code sets")
    walk.button("Create the set").click()
    walk.notice(wrapup.SET_CREATED, set=f"{p} retention", n="9")
    page.get_by_role("link", name=f"{p} retention").click()
    page.get_by_label(walk.t("Retry after, in minutes, of line %(n)s", n="1"), exact=True).fill(
        "15"
    )
    page.get_by_label(walk.t("Line %(n)s adds the number to DNC", n="2"), exact=True).check()
    walk.accessible("a wrap-up code set")
    walk.shot("wrapup-set")
    walk.button("Save the set").click()
    walk.notice(wrapup.SET_SAVED, set=f"{p} retention")
    expect(page.locator("#retry-0")).to_have_value("15")
    page.get_by_label(walk.t("Code of line %(n)s", n="10"), exact=True).fill("Not A Code")
    page.get_by_label(walk.t("Label of line %(n)s", n="10"), exact=True).fill("Bad")
    walk.button("Save the set").click()
    expect(page.locator("#messages")).to_contain_text("codes.10.code")
    expect(page.locator("#code-9")).to_have_value("Not A Code")
    walk.shot("wrapup-refused")


def set_a_calling_window(walk: Walk) -> None:
    """A campaign's window changed from the page, then checked in Tokyo."""
    page, p = walk.page, walk.prefix
    walk.admin.agent(f"{p}-lee")
    queue_id = walk.admin.queue(f"{p} window floor", [f"{p}-lee"])
    campaign_id = walk.admin.campaign(f"{p} windowed", queue_id, "preview")
    page.goto("/console/windows")
    page.get_by_role(
        "link", name=walk.t("Change the window of %(campaign)s", campaign=f"{p} windowed")
    ).click()
    expect(page.locator(f"#on-{campaign_id}")).to_be_checked()
    page.get_by_label(walk.t("From"), exact=True).fill("09:00")
    page.get_by_label(walk.t("Until"), exact=True).fill("18:00")
    page.get_by_label(walk.t("Sunday"), exact=True).uncheck()
    walk.accessible("the calling windows")
    walk.shot("windows-form")
    walk.button("Save the window").click()
    walk.notice(windows.WINDOW_SET, campaigns=f"{p} windowed")
    row = page.locator(f"#window-{campaign_id}")
    expect(row.locator(".window-start")).to_have_text("09:00")
    expect(row.locator(".window-end")).to_have_text("18:00")
    page.get_by_label(walk.t("Is each window open now in this zone? (IANA name)")).fill(
        "Asia/Tokyo"
    )
    walk.button("Check").click()
    window = CallingWindow(start="09:00", end="18:00", days=(0, 1, 2, 3, 4, 5))
    cell = row.locator(".open-now")
    if window.is_open(datetime.now(UTC), "Asia/Tokyo"):
        expect(cell).to_have_text(walk.t("Open"))
    else:
        expect(cell).to_contain_text(walk.t("Closed; opens %(when)s").split("%(when)s")[0])
    walk.accessible("the calling windows checked in a zone")
    walk.shot("windows-zone")


def run_a_staleness_rule(walk: Walk) -> None:
    """A rule releasing the leads of deactivated owners, run by hand; its run is listed."""
    page, p = walk.page, walk.prefix
    page.goto("/console/staleness")
    page.get_by_label(walk.t("Name of the rule")).fill(f"{p} gone owners")
    page.get_by_label(walk.t("Its owner is deactivated")).check()
    walk.accessible("the staleness rules")
    walk.button("Create the rule").click()
    walk.notice(staleness.RULE_CREATED, rule=f"{p} gone owners")
    row = page.locator("#rule-list tr", has_text=f"{p} gone owners")
    row.get_by_role("button", name=walk.t("Run %(rule)s now", rule=f"{p} gone owners")).click()
    walk.notice(staleness.RULE_RAN, rule=f"{p} gone owners", n="0")
    expect(page.locator("#rule-runs")).to_contain_text(f"{p} gone owners")
    walk.shot("staleness")
    page.get_by_role("link", name=f"{p} gone owners").click()
    page.get_by_label(walk.t("Run every (minutes)")).fill("0")
    walk.button("Save the rule").click()
    expect(page.locator("#messages")).to_contain_text("every_minutes")
    walk.accessible("a staleness rule")
    walk.shot("staleness-refused")


def test_every_sentence_of_the_administration_pages_has_a_japanese_translation() -> None:
    """The notices and choices of these pages in the Japanese catalogue, by name."""
    catalogue = translations("ja")
    sentences = [
        roles.ROLE_CREATED,
        *roles.RIGHT_WORDS.values(),
        people.ROLE_GIVEN,
        wrapup.SET_SAVED,
        *wrapup.OWNER_ACTIONS.values(),
        windows.WINDOW_SET,
        *windows.ZONE_KINDS.values(),
        staleness.RULE_RAN,
        common.INVALID_FIELD,
    ]
    assert [s for s in sentences if catalogue.gettext(s) == s] == []
