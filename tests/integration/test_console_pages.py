"""The console without a browser (Starlette's TestClient): who may open it, a CSV upload
with its preview and mapping, the import in the background with its report, and the
rejections as CSV."""

from __future__ import annotations

import csv
import io
import re
import time

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callhopper import cli
from callhopper.settings import Settings
from callhopper.web.console import campaigns, common, dashboard
from callhopper.web.i18n import translations
from tests.campaign_helpers import (
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.integration.test_web_pages import sign_in, token_of
from tests.support import MakeUser, Person

_RUN = re.compile(r"/console/lists/(\d+)/runs/([\w-]+)$")
CSV = (
    "account,name,cell,owner\n"
    "A-1,Ann,(602) 555-0101,ana\n"
    "A-2,Bob,not a number,ana\n"
    "A-3,Cy,(602) 555-0103,ana\n"
    "A-3,Dup,(602) 555-0104,ana\n"
)


def english(message: str) -> str:
    return translations("en").gettext(message)


def test_agents_are_refused_the_console_with_a_page_that_says_why(
    app_client: TestClient, make_user: MakeUser
) -> None:
    agent = make_user("agent", email="ana@example.com", user_id="ana")
    sign_in(app_client, agent)
    for path in ("/console", "/console/lists", "/console/lists/new"):
        refused = app_client.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
        assert english(common.REFUSED) in refused.text
        assert 'href="/workspace"' in refused.text


def wait_for_run(client: TestClient, path: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = client.get(path, headers={"HX-Request": "true"})
        assert page.status_code == 200, page.text
        if "hx-trigger" not in page.text:
            return page.text
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_an_upload_is_previewed_mapped_imported_in_the_background_and_reported(
    app_client: TestClient, make_user: MakeUser
) -> None:
    admin = make_user("admin", email="ada@example.com")
    make_user("agent", email="ana@example.com", user_id="ana")
    sign_in(app_client, admin)
    token = token_of(app_client.get("/console/lists/new").text)
    preview = app_client.post(
        "/console/lists/new",
        data={"csrf_token": token},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "Bob" in preview.text and "(602) 555-0101" in preview.text
    upload = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert upload is not None
    created = app_client.post(
        "/console/lists/create",
        data={
            "csrf_token": token,
            "token": upload.group(1),
            "source": "people.csv",
            "name": "People",
            **{f"keep-{i}": "on" for i in range(4)},
            **{f"name-{i}": n for i, n in enumerate(["account", "name", "cell", "owner"])},
            "phone-2": "cell",
            "key_column": "0",
            "agent_owned_column": "3",
            "default_timezone": "America/Phoenix",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    found = _RUN.search(created.headers["location"])
    assert found is not None
    report = wait_for_run(app_client, created.headers["location"])
    assert 'id="rows-rejected">2<' in report
    list_id = found.group(1)
    rejections = app_client.get(re.search(r'href="([^"]+rejections.csv)"', report).group(1))  # type: ignore[union-attr]
    rows = list(csv.reader(io.StringIO(rejections.content.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason"] and [r[0] for r in rows[1:]] == ["3", "5"]
    listing = app_client.get(f"/console/lists/{list_id}")
    assert "A-1" in listing.text and "A-3" in listing.text and "A-2" not in listing.text
    searched = app_client.get(f"/console/lists/{list_id}?column=account&value=A-3")
    assert "A-1" not in searched.text.split("records-table")[1]


def test_a_campaign_is_created_started_and_its_error_monitor_lists_the_undeliverable(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    ana = make_user("agent", email="ana@example.com", user_id="ana")
    list_id = make_list(api, owned_rows(["ana", "nobody", ""]))
    queue_id = make_queue(api, [ana])
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    token = token_of(pages.get("/console/campaigns/new").text)
    form = {
        "csrf_token": token,
        "name": "Collections",
        "list_id": str(list_id),
        "queue_id": str(queue_id),
        "wrapup_set_id": "1",
        "mode": "preview",
        "agent_owned_column": "agent",
        "owner_order": "email_first",
        "window_start": "00:00",
        "window_end": "24:00",
        "window_days": [str(d) for d in range(7)],
        "lease_timeout_s": "1800",
        "accept_timeout_s": "30",
        "hopper_level": "100",
        "allow_skip": "on",
    }
    refused = pages.post("/console/campaigns/new", data={**form, "mode": "predictive"})
    assert refused.status_code == 422 and 'value="Collections"' in refused.text
    created = pages.post("/console/campaigns/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    campaign_id = int(created.headers["location"].rsplit("/", 1)[1])
    edit = pages.get(f"/console/campaigns/{campaign_id}")
    assert 'id="mode" name="mode" disabled aria-describedby="mode-why"' in edit.text
    assert english(campaigns.FIXED_REASON["mode"]) in edit.text
    started = pages.post(
        f"/console/campaigns/{campaign_id}/state/start",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert started.status_code == 303
    listing = pages.get("/console/campaigns")
    assert f'href="/console/campaigns/{campaign_id}/errors"' in listing.text
    assert 'Errors: <span translate="no">2</span>' in listing.text
    monitor = pages.get(f"/console/campaigns/{campaign_id}/errors")
    assert re.search(r'id="errors-missing_value">.*?class="count">1<', monitor.text, re.S)
    assert re.search(r'id="errors-unknown_user_id">.*?class="count">1<', monitor.text, re.S)


def test_the_ownership_actions_are_for_holders_of_ownership_control_only(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    list_id = make_list(api, owned_rows(["ana"]))
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    tab = pages.get(f"/console/lists/{list_id}/ownership")
    assert 'id="ownership-actions"' in tab.text
    token = token_of(tab.text)
    saved = pages.post(
        f"/console/lists/{list_id}/ownership/settings",
        data={"csrf_token": token, "enabled": "on", "days": "1", "hours": "6"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert api.get(f"/api/v1/contact-lists/{list_id}/ownership/settings").json() == {
        "enabled": True,
        "days": 1,
        "hours": 6,
        "no_expiration": False,
    }
    supervisor = TestClient(app_client.app)
    sign_in(supervisor, make_user("supervisor", email="sol@example.com"))
    seen = supervisor.get(f"/console/lists/{list_id}/ownership")
    assert seen.status_code == 200 and 'id="ownership-actions"' not in seen.text
    refused = supervisor.post(
        f"/console/lists/{list_id}/ownership/release",
        data={"csrf_token": token_of(seen.text), "campaigns": "all"},
    )
    assert refused.status_code == 403


def test_the_dashboard_shows_each_agents_progress_and_refreshes_it(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    ana, bob = agents(make_user, "ana", "bob")
    list_id = make_list(api, owned_rows(["ana", "ana", "bob"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, [ana, bob]))
    start(api, campaign_id)
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("supervisor", email="sol@example.com"))
    board = pages.get(f"/console/dashboard?campaign={campaign_id}")
    assert board.status_code == 200
    assert "<svg" in board.text and f'hx-get="/console/dashboard/{campaign_id}/live"' in board.text
    row = re.compile(r'id="agent-ana">.*?class="handled">(\d+)<', re.S)
    assert row.search(board.text).group(1) == "0"  # type: ignore[union-attr]
    delivery = get_record(app_client, ana, campaign_id)
    assert delivery is not None
    done(app_client, ana, campaign_id, delivery["record_id"])
    live = pages.get(f"/console/dashboard/{campaign_id}/live", headers={"HX-Request": "true"})
    assert row.search(live.text).group(1) == "1"  # type: ignore[union-attr]
    assert english(dashboard.ABANDON_NOT_DIALLING) in live.text


def test_a_campaigns_results_export_from_the_page_and_the_command_line(
    app_client: TestClient, api: TestClient, make_user: MakeUser, settings: Settings
) -> None:
    ana, bob = agents(make_user, "ana", "bob")
    list_id = make_list(api, owned_rows(["ana", "bob", "ana"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, [ana, bob]))
    start(api, campaign_id)
    delivery = get_record(app_client, ana, campaign_id)
    assert delivery is not None
    done(app_client, ana, campaign_id, delivery["record_id"], code="interested")
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("supervisor", email="sol@example.com"))
    download = pages.get(f"/console/campaigns/{campaign_id}/results.csv")
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [r["key"] for r in rows] == ["A00000", "A00001", "A00002"]
    first = rows[0]
    assert (first["owner"], first["last_agent"], first["last_outcome"]) == (
        "ana",
        "ana",
        "interested",
    )
    assert rows[1]["owner"] == "bob" and rows[1]["last_outcome"] == ""
    result = CliRunner().invoke(
        cli.app, ["export", str(campaign_id), "--database-url", settings.database_url]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == download.content.decode("utf-8-sig").replace(
        "\r\n", "\n"
    )


def test_why_not_names_the_campaign_that_owns_a_record_and_when_the_window_opens(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    (ana,) = agents(make_user, "ana")
    list_id = make_list(api, owned_rows(["ana", "ana"]))
    queue_id = make_queue(api, [ana])
    settings = {"enabled": True, "days": 1, "hours": 0, "no_expiration": False}
    assert api.put(f"/api/v1/contact-lists/{list_id}/ownership/settings", json=settings).is_success
    first = make_campaign(api, list_id, queue_id, name="First")
    second = make_campaign(api, list_id, queue_id, name="Second")
    late = make_campaign(
        api, list_id, queue_id, name="Late", calling_window={"start": "09:00", "end": "21:00"}
    )
    for campaign_id in (first, second, late):
        start(api, campaign_id)
    delivery = get_record(app_client, ana, campaign_id=first)
    assert delivery is not None
    record_id = delivery["record_id"]
    base = f"/api/v1/agent/campaigns/{first}/records/{record_id}"
    assert app_client.post(f"{base}/call", json={}, headers=ana.headers).is_success
    done(app_client, ana, first, record_id, code="interested")
    pages = TestClient(app_client.app)
    pages.cookies.set("callhopper_tz", "America/Phoenix")
    sign_in(pages, make_user("supervisor", email="sol@example.com"))
    record = pages.get(f"/console/lists/{list_id}/records/{record_id}")
    assert f'href="/console/lists/{list_id}/records/{record_id}/why"' in record.text
    owned = pages.get(f"/console/lists/{list_id}/records/{record_id}/why?campaign={second}")
    assert owned.status_code == 200, owned.text
    assert 'data-reason="owned_by_another_campaign"' in owned.text
    assert 'owns it until <span translate="no">' in owned.text and ">First<" in owned.text
    other = record_id + 1
    closed = pages.get(f"/console/lists/{list_id}/records/{other}/why?campaign={late}")
    assert 'data-reason="outside_calling_window"' in closed.text
    assert 'until <span translate="no">09:00</span>' in closed.text
    assert "America/Phoenix" in closed.text


def test_mass_edit_counts_first_then_changes_on_confirmation_and_shows_the_audit(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    agents(make_user, "ana", "bob")
    list_id = make_list(api, owned_rows(["x", "y", "z", "w"]))
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    form = pages.get(f"/console/lists/{list_id}/mass-edit")
    assert form.status_code == 200
    edit = {
        "csrf_token": token_of(form.text),
        "filter": "balance >= 0",
        "owner": "none",
        "action": "distribute",
        "agents": "ana, bob",
        "note": "spread",
    }
    counted = pages.post(f"/console/lists/{list_id}/mass-edit", data=edit)
    assert 'id="matched">4<' in counted.text and 'id="changed">4<' in counted.text
    assert 'name="confirm" value="yes"' in counted.text
    owners = [
        r["owner_user_id"] for r in api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    ]
    assert owners == [None] * 4  # the dry run changed nothing
    done_edit = pages.post(
        f"/console/lists/{list_id}/mass-edit",
        data={**edit, "confirm": "yes"},
        follow_redirects=False,
    )
    assert done_edit.status_code == 303
    after = pages.get(done_edit.headers["location"])
    assert after.text.count("mass edit: spread") == 4
    owners = [
        r["owner_user_id"] for r in api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    ]
    assert sorted(owners) == ["ana", "ana", "bob", "bob"]
    supervisor = TestClient(app_client.app)
    sign_in(supervisor, make_user("supervisor", email="sol@example.com"))
    assert supervisor.get(f"/console/lists/{list_id}/mass-edit").status_code == 403


def test_a_two_group_lead_filter_is_built_saved_as_a_skill_and_given_to_an_agent(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    agents(make_user, "ana")
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    token = token_of(pages.get("/console/skills").text)
    built = {
        "csrf_token": token,
        "name": "Arizona big",
        "filter-field-0-0-0": "state",
        "filter-op-0-0-0": "==",
        "filter-value-0-0-0": "AZ",
        "filter-field-0-1-0": "balance",
        "filter-op-0-1-0": ">=",
        "filter-value-0-1-0": "100",
        "filter-field-1-0-0": "tier",
        "filter-op-1-0-0": "in",
        "filter-value-1-0-0": "Gold, Silver",
    }
    saved = pages.post("/console/skills", data=built, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    skill = next(s for s in api.get("/api/v1/skills").json() if s["name"] == "Arizona big")
    assert skill["expression"] == '(state == "AZ" and balance >= 100) or tier in ("Gold", "Silver")'
    given = pages.post(
        f"/console/skills/{skill['id']}/agents",
        data={"csrf_token": token, "agents": "ana"},
        follow_redirects=False,
    )
    assert given.status_code == 303
    assert api.get("/api/v1/users/ana").json()["skill_ids"] == [skill["id"]]
    refused = pages.post("/console/skills", data={**built, "filter-value-1-0-0": ""})
    assert refused.status_code == 422 and 'value="Arizona big"' in refused.text


def test_the_audit_log_is_filtered_and_exported_as_csv(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    list_id = make_list(api, owned_rows(["ana"]), name="Audited")
    make_list(api, owned_rows(["bob"], start=5), name="Other")
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("supervisor", email="sol@example.com"))
    everything = pages.get("/console/audit")
    assert everything.status_code == 200
    assert "contact_list.create" in everything.text
    created = pages.get("/console/audit?what=contact_list.create")
    assert created.text.count('<td translate="no">contact_list.create</td>') == 2
    exported = pages.get("/console/audit.csv?what=contact_list.")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["action"] for r in rows} == {"contact_list.create", "contact_list.import"}
    assert str(list_id) in {r["target_id"] for r in rows}
    agent = TestClient(app_client.app)
    sign_in(agent, make_user("agent", email="ana@example.com", user_id="ana"))
    assert agent.get("/console/audit").status_code == 403


def test_users_are_created_deactivated_given_a_password_and_a_token_and_queued(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    token = token_of(pages.get("/console/users").text)
    created = pages.post(
        "/console/users",
        data={"csrf_token": token, "email": "kim@example.com", "user_id": "kim",
              "role": "agent", "password": "first password"},
        follow_redirects=False,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    taken = pages.post(
        "/console/users",
        data={"csrf_token": token, "email": "kim@example.com", "role": "agent"},
    )
    assert taken.status_code == 422 and "already exists" in taken.text
    reset = pages.post(
        "/console/users/kim/password", data={"csrf_token": token, "password": "second password"}
    )
    assert reset.status_code == 200
    kim = TestClient(app_client.app)
    assert sign_in(kim, Person("kim", "kim@example.com", ""), "second password").status_code == 303
    issued = pages.post("/console/users/kim/tokens", data={"csrf_token": token, "name": "cli"})
    secret = re.search(r"(chp_[A-Za-z0-9_-]+)", issued.text)
    assert secret is not None, issued.text
    me = app_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 200 and me.json()["user_id"] == "kim"
    queue_id = make_queue(api, [], name="Night")
    pages.post(f"/console/queues/{queue_id}/members", data={"csrf_token": token, "members": "kim"})
    assert api.get(f"/api/v1/queues/{queue_id}").json()["member_user_ids"] == ["kim"]
    pages.post("/console/users/kim/active", data={"csrf_token": token, "active": "false"})
    assert api.get("/api/v1/users/kim").json()["active"] is False


def test_a_do_not_call_list_is_uploaded_searched_and_a_number_removed(
    app_client: TestClient, make_user: MakeUser
) -> None:
    pages = TestClient(app_client.app)
    sign_in(pages, make_user("admin", email="ada@example.com"))
    token = token_of(pages.get("/console/dnc").text)
    pages.post("/console/dnc", data={"csrf_token": token, "name": "Complaints"})
    listed = re.search(r'action="/console/dnc/(\d+)/upload"', pages.get("/console/dnc").text)
    assert listed is not None
    list_id = listed.group(1)
    uploaded = pages.post(
        f"/console/dnc/{list_id}/upload",
        data={"csrf_token": token},
        files={"file": ("dnc.csv", b"number\n(602) 555-0101\n(602) 555-0102\nnot a number\n")},
    )
    assert uploaded.status_code == 200
    assert "2 numbers added, 1 rows rejected" in re.sub(r"<[^>]+>", "", uploaded.text)
    found = pages.get("/console/dnc?number=602-555-0101")
    assert 'id="dnc-found" class="notice warning"' in found.text and "Complaints" in found.text
    pages.post(
        f"/console/dnc/{list_id}/remove", data={"csrf_token": token, "numbers": "6025550101"}
    )
    gone = pages.get("/console/dnc?number=602-555-0101")
    assert 'id="dnc-found" class="notice success"' in gone.text
