"""The console's administration pages without a browser (Starlette's TestClient): roles and
rights, wrap-up code sets, calling windows, staleness rules and their runs. Each page is
shown, creates and changes through the same services as the API, refuses a bad value with
a notice naming the field while storing nothing, and is refused without its right."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from callhopper.web.console import common
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows
from tests.integration.test_web_pages import sign_in, token_of
from tests.support import MakeUser


def text(page: Any) -> str:
    """A page's words, without its tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.text))


def refused_field(page: Any, field: str) -> bool:
    """Whether ``page`` is a 422 whose notice names ``field``."""
    return page.status_code == 422 and f"This was refused ({field}):" in text(page)


def signed_in(app_client: TestClient, make_user: MakeUser, role: str, **kw: Any) -> TestClient:
    pages = TestClient(app_client.app)
    sign_in(pages, make_user(role, **kw))
    return pages


def csrf(pages: TestClient, path: str) -> str:
    return token_of(pages.get(path).text)


# --- roles and rights ---------------------------------------------------------------------------


def test_built_in_role_descriptions_are_in_the_page_language(
    app_client: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "admin")
    japanese = pages.get("/console/roles", headers={"Accept-Language": "ja"}).text
    assert "スーパー管理者" in japanese
    assert "Super admin: every right." not in japanese
    english = pages.get("/console/roles", headers={"Accept-Language": "en"}).text
    assert "Super admin: every right." in english


def test_a_custom_role_drops_rights_is_changed_given_to_a_user_and_deleted(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    agents(make_user, "ana")
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    shown = pages.get("/console/roles")
    assert shown.status_code == 200
    assert 'id="role-list"' in shown.text and "audit.view" in shown.text
    token = token_of(shown.text)
    created = pages.post(
        "/console/roles",
        data={
            "csrf_token": token,
            "name": "floor lead",
            "based_on": "supervisor",
            "without": ["audit.view"],
            "description": "Reads reports",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    role = next(r for r in api.get("/api/v1/roles").json() if r["name"] == "floor lead")
    assert role == {
        "name": "floor lead",
        "description": "Reads reports",
        "builtin": False,
        "rights": ["report.view"],
    }
    changed = pages.post(
        "/console/roles/change",
        data={
            "csrf_token": token,
            "role": "floor lead",
            "description": "Leads the floor",
            "rights": ["report.view", "wrapup.manage"],
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    role = next(r for r in api.get("/api/v1/roles").json() if r["name"] == "floor lead")
    assert role["rights"] == ["report.view", "wrapup.manage"]
    assert role["description"] == "Leads the floor"
    given = pages.post(
        "/console/users/ana/role",
        data={"csrf_token": token, "role": "floor lead"},
        follow_redirects=False,
    )
    assert given.status_code == 303
    assert api.get("/api/v1/users/ana").json()["role"] == "floor lead"
    held = pages.post("/console/roles/delete", data={"csrf_token": token, "role": "floor lead"})
    assert refused_field(held, "name") and "still have the role" in text(held)
    pages.post("/console/users/ana/role", data={"csrf_token": token, "role": "agent"})
    deleted = pages.post(
        "/console/roles/delete",
        data={"csrf_token": token, "role": "floor lead"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert "floor lead" not in {r["name"] for r in api.get("/api/v1/roles").json()}


def test_a_bad_role_is_refused_naming_the_field_and_nothing_is_stored(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    token = csrf(pages, "/console/roles")
    before = api.get("/api/v1/roles").json()
    empty = pages.post(
        "/console/roles", data={"csrf_token": token, "name": "  ", "based_on": "supervisor"}
    )
    assert refused_field(empty, "name") and "the role name is empty" in text(empty)
    unknown = pages.post(
        "/console/roles",
        data={"csrf_token": token, "name": "odd", "based_on": "agent", "without": ["no.such"]},
    )
    assert refused_field(unknown, "rights") and "unknown right(s): no.such" in text(unknown)
    builtin = pages.post(
        "/console/roles/change", data={"csrf_token": token, "role": "agent", "rights": []}
    )
    assert refused_field(builtin, "name")
    assert api.get("/api/v1/roles").json() == before


def test_roles_are_refused_without_user_manage(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "supervisor", email="sol@example.com", user_id="sol")
    refused = pages.get("/console/roles")
    assert refused.status_code == 403
    assert "This page needs a right your account does not have: user.manage." in text(refused)
    assert 'href="/console/roles"' not in pages.get("/console/audit").text
    token = csrf(pages, "/console/audit")
    posted = pages.post(
        "/console/roles", data={"csrf_token": token, "name": "mine", "based_on": "supervisor"}
    )
    assert posted.status_code == 403
    assert "mine" not in {r["name"] for r in api.get("/api/v1/roles").json()}
    assert (
        pages.post(
            "/console/users/sol/role", data={"csrf_token": token, "role": "admin"}
        ).status_code
        == 403
    )
    assert api.get("/api/v1/users/sol").json()["role"] == "supervisor"


# --- wrap-up codes ------------------------------------------------------------------------------


def code_lines(*lines: dict[str, str]) -> dict[str, Any]:
    """The codes' table of a set's form, one line per dict (keys without the ``-n``)."""
    form: dict[str, Any] = {"lines": str(len(lines))}
    for n, line in enumerate(lines):
        form.update({f"{key}-{n}": value for key, value in line.items()})
    return form


def test_a_wrap_up_set_is_created_its_codes_changed_and_given_to_a_campaign(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    campaign_id = make_campaign(api, make_list(api, owned_rows(["ana"])), make_queue(api, []))
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    shown = pages.get("/console/wrapup")
    assert shown.status_code == 200 and "Default" in shown.text and "Collections" in shown.text
    token = token_of(shown.text)
    created = pages.post(
        "/console/wrapup",
        data={"csrf_token": token, "name": "Retention", "description": "Keep them"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    found = next(s for s in api.get("/api/v1/wrapup-code-sets").json() if s["name"] == "Retention")
    assert len(found["codes"]) == 9
    edit = pages.get(f"/console/wrapup/{found['id']}")
    assert edit.status_code == 200 and 'value="answering_machine"' in edit.text
    saved = pages.post(
        f"/console/wrapup/{found['id']}",
        data={
            "csrf_token": token,
            "name": "Retention",
            "description": "Keep them",
            **code_lines(
                {
                    "code": "saved",
                    "label": "Saved",
                    "attempt": "on",
                    "final": "on",
                    "owner": "set_owner_to_agent",
                },
                {"code": "think", "label": "Thinks it over", "retry": "30", "dnc": ""},
                {
                    "code": "stop",
                    "label": "Stop calling",
                    "attempt": "on",
                    "final": "on",
                    "dnc": "on",
                },
                {"code": "gone", "label": "Gone", "remove": "on"},
                {"code": "", "label": ""},
            ),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    codes = api.get(f"/api/v1/wrapup-code-sets/{found['id']}").json()["codes"]
    assert codes == [
        {
            "code": "saved",
            "label": "Saved",
            "counts_as_attempt": True,
            "final": True,
            "retry_after_minutes": None,
            "adds_to_dnc": False,
            "owner_action": "set_owner_to_agent",
        },
        {
            "code": "think",
            "label": "Thinks it over",
            "counts_as_attempt": False,
            "final": False,
            "retry_after_minutes": 30,
            "adds_to_dnc": False,
            "owner_action": None,
        },
        {
            "code": "stop",
            "label": "Stop calling",
            "counts_as_attempt": True,
            "final": True,
            "retry_after_minutes": None,
            "adds_to_dnc": True,
            "owner_action": None,
        },
    ]
    given = pages.post(
        f"/console/wrapup/{found['id']}/campaign",
        data={"csrf_token": token, "campaign_id": str(campaign_id)},
        follow_redirects=False,
    )
    assert given.status_code == 303
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["wrapup_set_id"] == found["id"]
    used = pages.post(f"/console/wrapup/{found['id']}/delete", data={"csrf_token": token})
    assert refused_field(used, "set_id") and "Collections" in text(used)
    spare = pages.post(
        "/console/wrapup",
        data={"csrf_token": token, "name": "Spare", "copy_of": str(found["id"])},
        follow_redirects=False,
    )
    assert spare.status_code == 303
    spare_id = next(
        s["id"] for s in api.get("/api/v1/wrapup-code-sets").json() if s["name"] == "Spare"
    )
    assert len(api.get(f"/api/v1/wrapup-code-sets/{spare_id}").json()["codes"]) == 3
    pages.post(f"/console/wrapup/{spare_id}/delete", data={"csrf_token": token})
    assert api.get(f"/api/v1/wrapup-code-sets/{spare_id}").status_code == 404


def test_a_bad_wrap_up_code_is_refused_naming_its_line_and_field(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    token = csrf(pages, "/console/wrapup")
    before = api.get("/api/v1/wrapup-code-sets/1").json()
    base = {"csrf_token": token, "name": "Default", "description": ""}
    negative = pages.post(
        "/console/wrapup/1",
        data={
            **base,
            **code_lines(
                {"code": "sale", "label": "Sale"},
                {"code": "later", "label": "Later", "retry": "-5"},
            ),
        },
    )
    assert refused_field(negative, "codes.2.retry_after_minutes")
    assert 'value="later"' in negative.text  # the form keeps what was typed
    badly_written = pages.post(
        "/console/wrapup/1", data={**base, **code_lines({"code": "Not A Code", "label": "X"})}
    )
    assert refused_field(badly_written, "codes.1.code")
    twice = pages.post(
        "/console/wrapup/1",
        data={**base, **code_lines({"code": "sale", "label": "A"}, {"code": "sale", "label": "B"})},
    )
    assert refused_field(twice, "codes") and "duplicate code(s): sale" in text(twice)
    unnamed = pages.post("/console/wrapup", data={"csrf_token": token, "name": ""})
    assert unnamed.status_code == 422 and "(name)" in text(unnamed)
    assert api.get("/api/v1/wrapup-code-sets/1").json() == before
    assert len(api.get("/api/v1/wrapup-code-sets").json()) == 1


def test_wrap_up_codes_are_refused_without_wrapup_manage(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "supervisor", email="sol@example.com")
    assert pages.get("/console/wrapup").status_code == 403
    assert pages.get("/console/wrapup/1").status_code == 403
    token = csrf(pages, "/console/audit")
    assert (
        pages.post("/console/wrapup", data={"csrf_token": token, "name": "Mine"}).status_code == 403
    )
    assert [s["name"] for s in api.get("/api/v1/wrapup-code-sets").json()] == ["Default"]
    agent = signed_in(app_client, make_user, "agent", email="ana@example.com")
    refused = agent.get("/console/wrapup")
    assert refused.status_code == 403 and 'href="/workspace"' in refused.text


# --- calling windows ----------------------------------------------------------------------------


def two_campaigns(api: TestClient) -> list[int]:
    list_id = make_list(api, owned_rows(["ana"]))
    queue_id = make_queue(api, [])
    window = {"start": "08:00", "end": "21:00"}
    return [
        make_campaign(api, list_id, queue_id, name=name, calling_window=window)
        for name in ("North", "South")
    ]


def window_of(api: TestClient, campaign_id: int) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/campaigns/{campaign_id}").json()["calling_window"])


def test_a_calling_window_is_set_on_several_campaigns_and_checked_in_a_zone(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    north, south = two_campaigns(api)
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    shown = pages.get("/console/windows")
    assert shown.status_code == 200
    assert "North" in shown.text and "the phone number's prefix; else America/Phoenix" in text(
        shown
    )
    editing = pages.get(f"/console/windows?campaign={north}")
    assert f'id="on-{north}" name="campaigns" value="{north}" checked' in editing.text
    saved = pages.post(
        "/console/windows",
        data={
            "csrf_token": token_of(shown.text),
            "start": "22:00",
            "end": "02:00",
            "days": ["0", "1", "2", "3", "4"],
            "campaigns": [str(north), str(south)],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    overnight = {"start": "22:00", "end": "02:00", "days": [0, 1, 2, 3, 4]}
    assert window_of(api, north) == window_of(api, south) == overnight
    checked = pages.get("/console/windows?zone=Asia/Tokyo")
    assert checked.status_code == 200 and "In Asia/Tokyo now" in text(checked)
    assert text(checked).count("Closed; opens") + text(checked).count("Open") >= 2
    unknown = pages.get("/console/windows?zone=Mars/Olympus")
    assert unknown.status_code == 422 and "Mars/Olympus is not a time zone" in text(unknown)


def test_a_bad_calling_window_is_refused_naming_the_field_and_no_campaign_changes(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    north, south = two_campaigns(api)
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    token = csrf(pages, "/console/windows")
    before = [window_of(api, north), window_of(api, south)]
    both = [str(north), str(south)]
    late = pages.post(
        "/console/windows",
        data={
            "csrf_token": token,
            "start": "09:00",
            "end": "25:00",
            "days": ["0"],
            "campaigns": both,
        },
    )
    assert refused_field(late, "calling_window") and "calling_window.end" in text(late)
    assert 'value="25:00"' in late.text
    no_day = pages.post(
        "/console/windows",
        data={"csrf_token": token, "start": "09:00", "end": "17:00", "campaigns": both},
    )
    assert refused_field(no_day, "calling_window") and "at least one day" in text(no_day)
    nobody = pages.post(
        "/console/windows",
        data={"csrf_token": token, "start": "09:00", "end": "17:00", "days": ["0"]},
    )
    assert refused_field(nobody, "campaign_ids")
    missing = pages.post(
        "/console/windows",
        data={
            "csrf_token": token,
            "start": "09:00",
            "end": "17:00",
            "days": ["0"],
            "campaigns": [str(north), "999999"],
        },
    )
    assert missing.status_code == 422
    assert [window_of(api, north), window_of(api, south)] == before


def test_calling_windows_are_read_by_supervisors_and_changed_only_with_campaign_manage(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    north, _south = two_campaigns(api)
    pages = signed_in(app_client, make_user, "supervisor", email="sol@example.com")
    shown = pages.get("/console/windows")
    assert shown.status_code == 200 and "North" in shown.text
    assert 'id="window-form"' not in shown.text
    posted = pages.post(
        "/console/windows",
        data={
            "csrf_token": token_of(shown.text),
            "start": "10:00",
            "end": "11:00",
            "days": ["0"],
            "campaigns": [str(north)],
        },
    )
    assert posted.status_code == 403
    assert "campaign.manage" in text(posted)
    assert window_of(api, north)["start"] == "08:00"
    agent = signed_in(app_client, make_user, "agent", email="ana@example.com")
    assert agent.get("/console/windows").status_code == 403


# --- staleness rules ----------------------------------------------------------------------------


def rule_form(token: str, **values: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "Cold",
        "list_id": "",
        "statuses": "",
        "not_called_days": "",
        "every_minutes": "60",
        "enabled": "on",
        **values,
    }


def rules(api: TestClient) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/staleness-rules").json())


def test_a_staleness_rule_is_created_run_changed_and_deleted_with_its_runs_shown(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    agents(make_user, "ana")
    list_id = make_list(api, owned_rows(["ana", "ana"]), name="Leads")
    first = api.get(f"/api/v1/contact-lists/{list_id}/records").json()[0]["id"]
    owner = f"/api/v1/contact-lists/{list_id}/records/{first}/owner"
    assert api.put(owner, json={"owner": "ana"}).status_code == 200
    assert api.post("/api/v1/users/ana/deactivate").status_code == 200
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com", user_id="ada")
    shown = pages.get("/console/staleness")
    assert shown.status_code == 200 and "No run yet." in text(shown)
    token = token_of(shown.text)
    created = pages.post(
        "/console/staleness",
        data=rule_form(
            token,
            list_id=str(list_id),
            statuses="not_interested, wrong_number",
            owner_deactivated="on",
        ),
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    (rule,) = rules(api)
    assert rule["list_id"] == list_id and rule["statuses"] == ["not_interested", "wrong_number"]
    assert rule["owner_deactivated"] is True and rule["not_called_days"] is None
    ran = pages.post(f"/console/staleness/{rule['id']}/run", data={"csrf_token": token})
    assert ran.status_code == 200
    assert "Staleness rule Cold ran: 1 leads went back to the general pool." in text(ran)
    (run,) = api.get("/api/v1/staleness-runs").json()
    assert run["rule_id"] == rule["id"] and run["released"] == 1 and run["actor"] == "ada"
    page = pages.get(f"/console/staleness/{rule['id']}")
    assert re.search(r'class="number released">1<', page.text), page.text
    changed = pages.post(
        f"/console/staleness/{rule['id']}",
        data=rule_form(
            token, name="Cold leads", not_called_days="30", every_minutes="15", enabled=""
        ),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    (rule,) = rules(api)
    assert (rule["name"], rule["list_id"], rule["statuses"]) == ("Cold leads", None, [])
    assert (rule["not_called_days"], rule["every_minutes"], rule["enabled"]) == (30, 15, False)
    assert rule["owner_deactivated"] is False and rule["last_run_at"] is not None
    deleted = pages.post(
        f"/console/staleness/{rule['id']}/delete",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert deleted.status_code == 303 and rules(api) == []
    assert "Cold" in text(pages.get("/console/staleness"))  # the run of the deleted rule stays


def test_a_bad_staleness_rule_is_refused_naming_the_field_and_nothing_is_stored(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = signed_in(app_client, make_user, "admin", email="ada@example.com")
    token = csrf(pages, "/console/staleness")
    never = pages.post(
        "/console/staleness", data=rule_form(token, every_minutes="0", owner_deactivated="on")
    )
    assert refused_field(never, "every_minutes")
    assert 'value="0"' in never.text
    words = pages.post("/console/staleness", data=rule_form(token, not_called_days="thirty"))
    assert refused_field(words, "not_called_days")
    nothing = pages.post("/console/staleness", data=rule_form(token))
    assert refused_field(nothing, "statuses") and "at least one condition" in text(nothing)
    assert rules(api) == []
    created = pages.post(
        "/console/staleness", data=rule_form(token, statuses="sale"), follow_redirects=False
    )
    assert created.status_code == 303
    (rule,) = rules(api)
    emptied = pages.post(f"/console/staleness/{rule['id']}", data=rule_form(token, name=""))
    assert refused_field(emptied, "name")
    assert rules(api) == [rule]


def test_staleness_rules_are_read_with_report_view_and_changed_only_with_lead_mass_edit(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    api.post("/api/v1/staleness-rules", json={"name": "Gone", "owner_deactivated": True})
    pages = signed_in(app_client, make_user, "supervisor", email="sol@example.com")
    shown = pages.get("/console/staleness")
    assert shown.status_code == 200 and "Gone" in shown.text
    assert 'id="rule-form"' not in shown.text and "/run" not in shown.text
    token = token_of(shown.text)
    (rule,) = rules(api)
    assert (
        pages.post("/console/staleness", data=rule_form(token, owner_deactivated="on")).status_code
        == 403
    )
    assert (
        pages.post(
            f"/console/staleness/{rule['id']}/delete", data={"csrf_token": token}
        ).status_code
        == 403
    )
    assert rules(api) == [rule]
    agent = signed_in(app_client, make_user, "agent", email="ana@example.com")
    refused = agent.get("/console/staleness")
    assert refused.status_code == 403 and common.REFUSED in refused.text
