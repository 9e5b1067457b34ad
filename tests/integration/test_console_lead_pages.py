"""The console's lead-ownership pages without a browser (Starlette's TestClient): the hopper
view, workflow rules and their webhook deliveries, the mass edit's dry-run sample, the
lead-filter builder (skills and a campaign's default lead filter) and the dashboard's
abandon rate. Each shows, acts, refuses bad input naming the field with nothing stored,
and refuses users without the right."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from callhopper.clock import FrozenClock
from callhopper.core.webhooks import WebhookSender
from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.simulation.floor import create_floor
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from callhopper.web.console import dashboard
from callhopper.webhook_poster import HttpxWebhookPoster
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
from tests.conftest import T0
from tests.integration.test_abandon_rate import add_call
from tests.integration.test_console_pages import english
from tests.integration.test_hopper import lead_campaign, lead_list, leads, load, login, skill
from tests.integration.test_web_pages import sign_in, token_of
from tests.support import MakeUser, Person


def signed_in(app_client: TestClient, person: Person) -> TestClient:
    pages = TestClient(app_client.app)
    sign_in(pages, person)
    return pages


class _Form(HTMLParser):
    """The values a browser would send for the form with id ``form_id`` (text inputs,
    hidden inputs, checked boxes and radios, selected options, textareas)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in {"submit", "button"}:
            if a.get("type") in {"checkbox", "radio"}:
                if "checked" in a:
                    self.fields.append((name, a.get("value") or "on"))
            else:
                self.fields.append((name, a.get("value", "")))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = name
            self.fields.append((name, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[-1] = (self._textarea, self.fields[-1][1] + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_of(html: str, form_id: str) -> dict[str, Any]:
    parser = _Form(form_id)
    parser.feed(html)
    fields: dict[str, Any] = {}
    for name, value in parser.fields:
        if name in fields:
            old = fields[name]
            fields[name] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            fields[name] = value
    return fields


def builder_items(html: str, prefix: str) -> list[tuple[str, str]]:
    """The (set-group-item, field) of every item a builder shows."""
    return re.findall(rf'name="{prefix}-field-(\d+-\d+-\d+)" value="([^"]*)"', html)


# --- the hopper view ----------------------------------------------------------------------------


def test_the_hopper_view_shows_owned_and_general_leads_per_agent_and_loads_on_demand(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    skill(api, "Arizona", 'state == "AZ"', bob)
    skill(api, "California", 'state == "CA"', alice)
    list_id = lead_list(api, leads("alice", "AZ", 3, 0) + leads(None, "AZ", 4, 10))
    campaign_id = lead_campaign(api, list_id, [alice, bob], hopper_level=10)
    login(app_client, alice, campaign_id)
    login(app_client, bob, campaign_id)
    load(api, campaign_id)
    path = f"/console/campaigns/{campaign_id}/hopper"

    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    view = supervisor.get(path)
    assert view.status_code == 200, view.text
    assert 'id="hopper-total">7<' in view.text and 'id="hopper-owned">3<' in view.text
    assert re.search(r'id="owned-alice">.*?class="leads">3<', view.text, re.S)
    assert re.search(r'id="dialable-bob">.*?class="owned">0<.*?class="general">4<', view.text, re.S)
    assert "<svg" in view.text and "Arizona" in view.text
    assert view.text.count('<tr id="lead-') == 7
    assert f'action="{path}/load"' not in view.text  # loading is for campaign managers
    owned = supervisor.get(path, params={"owner": "alice"})
    assert owned.text.count('<tr id="lead-') == 3
    assert owned.text.count('owner <span translate="no">alice</span>') == 3
    general = supervisor.get(path, params={"general": "on"})
    assert general.text.count('<tr id="lead-') == 4
    unknown = supervisor.get(path, params={"owner": "nobody"})
    assert unknown.status_code == 422 and "user_id" in unknown.text and "nobody" in unknown.text
    assert 'id="hopper-total">7<' in unknown.text
    bad_page = supervisor.get(path, params={"after": "x"})
    assert bad_page.status_code == 422 and "after" in bad_page.text
    token = token_of(view.text)
    assert supervisor.post(f"{path}/load", data={"csrf_token": token}).status_code == 403

    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    loaded = admin.post(
        f"{path}/load", data={"csrf_token": token_of(admin.get(path).text)}, follow_redirects=False
    )
    assert loaded.status_code == 303 and loaded.headers["location"] == path
    assert "Hopper loaded" in admin.get(path).text
    assert signed_in(app_client, alice).get(path).status_code == 403
    plain = make_campaign(api, make_list(api, owned_rows(["alice"])), make_queue(api, [alice]))
    refused = supervisor.get(f"/console/campaigns/{plain}/hopper")
    assert refused.status_code == 409 and "does not use lead ownership" in refused.text


# --- workflow rules and webhook deliveries ------------------------------------------------------


def rule_form(token: str, **fields: Any) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "name": "Interested",
        "enabled": "on",
        "codes": "interested",
        "owner_action": "set_owner_to_agent",
        "field-0": "",
        "value-0": "",
        "webhooks": "",
        **fields,
    }


def test_workflow_rules_are_created_edited_and_deleted_and_bad_input_names_the_field(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    (ann,) = agents(make_user, "ann")
    campaign_id = make_campaign(api, make_list(api, owned_rows([""])), make_queue(api, [ann]))
    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    listing = admin.get("/console/workflows")
    assert listing.status_code == 200 and 'href="/console/workflows"' in listing.text
    token = token_of(listing.text)

    for fields, field in (
        ({"codes": "nonsense"}, "trigger.codes[0]"),
        ({"codes": ""}, "trigger.codes"),
        ({"name": ""}, "name"),
        ({"webhooks": "ftp://crm.example.com/h"}, "actions[1].url"),
        ({"owner_action": "", "field-0": ""}, "actions"),
    ):
        refused = admin.post("/console/workflows", data=rule_form(token, **fields))
        assert refused.status_code == 422, fields
        assert f"{field}</span>):" in refused.text, field
    assert api.get("/api/v1/workflow-rules").json() == []

    created = admin.post(
        "/console/workflows",
        data=rule_form(
            token,
            campaign_ids=[str(campaign_id)],
            **{"field-0": "status", "value-0": "hot"},
            webhooks="https://crm.example.com/hooks/a\nhttps://crm.example.com/hooks/b",
        ),
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    (rule,) = api.get("/api/v1/workflow-rules").json()
    assert rule["trigger"] == {"codes": ["interested"], "campaign_ids": [campaign_id]}
    assert rule["actions"] == [
        {"type": "set_owner_to_agent"},
        {"type": "set_field", "field": "status", "value": "hot"},
        {"type": "webhook", "url": "https://crm.example.com/hooks/a"},
        {"type": "webhook", "url": "https://crm.example.com/hooks/b"},
    ]
    edit_path = created.headers["location"]
    edit = admin.get(edit_path)
    assert 'value="status"' in edit.text and "whsec_" in edit.text
    sent = form_of(edit.text, "rule-form")
    sent.pop("enabled")
    sent.update({"name": "Warm", "owner_action": "clear_owner", "value-0": ""})
    assert admin.post(edit_path, data=sent, follow_redirects=False).status_code == 303
    (changed,) = api.get("/api/v1/workflow-rules").json()
    assert (changed["name"], changed["enabled"]) == ("Warm", False)
    assert changed["actions"][:2] == [
        {"type": "clear_owner"},
        {"type": "set_field", "field": "status", "value": None},
    ]
    bad_edit = admin.post(edit_path, data={**sent, "codes": "nonsense"})
    assert bad_edit.status_code == 422 and "trigger.codes[0]" in bad_edit.text
    assert api.get("/api/v1/workflow-rules").json()[0]["trigger"]["codes"] == ["interested"]

    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    assert supervisor.get("/console/workflows").status_code == 403
    assert supervisor.post(f"{edit_path}/delete", data={"csrf_token": token}).status_code == 403
    deleted = admin.post(f"{edit_path}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303
    assert api.get("/api/v1/workflow-rules").json() == []


def test_webhook_deliveries_show_their_state_attempts_and_error_and_a_failed_one_is_retried(
    app_client: TestClient, api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (ann,) = agents(make_user, "ann")
    list_id = make_list(api, owned_rows(["", ""]))
    campaign_id = make_campaign(
        api, list_id, make_queue(api, [ann]), agent_owned_column=None, sort=[{"column": "account"}]
    )
    start(api, campaign_id)
    hook = {"type": "webhook", "url": f"http://127.0.0.1:{port}/h"}
    created = api.post(
        "/api/v1/workflow-rules",
        json={"name": "Tell", "trigger": {"codes": ["interested"]}, "actions": [hook]},
    )
    assert created.status_code == 201, created.text
    delivery = get_record(app_client, ann, campaign_id)
    assert delivery is not None
    done(app_client, ann, campaign_id, delivery["record_id"], code="interested")

    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    row = re.compile(
        r'<tr id="delivery-(\d+)" class="stage-(\w+)">.*?class="attempts">(\d+)<', re.S
    )
    assert row.findall(admin.get("/console/workflows").text)[0][1:] == ("pending", "0")

    sender = WebhookSender(
        SqlUnitOfWork(db), clock, HttpxWebhookPoster(), max_attempts=1, timeout_s=5
    )
    assert sender.run_once(clock.now()) == 1
    failed = admin.get("/console/workflows", params={"stage": "failed"})
    ((webhook_id, stage, attempts),) = row.findall(failed.text)
    assert (stage, attempts) == ("failed", "1") and "ConnectError" in failed.text
    assert (
        admin.get("/console/workflows", params={"stage": "pending"}).text.count('<tr id="delivery-')
        == 0
    )
    token = token_of(failed.text)
    retry = f"/console/webhooks/{webhook_id}/retry"
    assert f'action="{retry}"' in failed.text
    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    assert supervisor.post(retry, data={"csrf_token": token}).status_code == 403
    retried = admin.post(retry, data={"csrf_token": token}, follow_redirects=False)
    assert retried.status_code == 303
    again = admin.get("/console/workflows", params={"stage": "retrying"})
    assert row.findall(again.text) == [(webhook_id, "retrying", "0")]
    assert "ConnectError" in again.text  # the last error stays until the next attempt
    twice = admin.post(retry, data={"csrf_token": token})
    assert twice.status_code == 409 and "only a failed message" in twice.text
    assert admin.post("/console/webhooks/999/retry", data={"csrf_token": token}).status_code == 404


# --- mass edit: the dry run's sample ------------------------------------------------------------


def test_the_mass_edit_dry_run_shows_the_first_leads_that_would_change_with_their_owner(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    agents(make_user, "ana", "bob")
    list_id = make_list(api, owned_rows(["x"] * 25))
    records = api.get(f"/api/v1/contact-lists/{list_id}/records", params={"limit": 100}).json()
    first = records[0]["id"]
    owner = f"/api/v1/contact-lists/{list_id}/records/{first}/owner"
    assert api.put(owner, json={"owner": "bob"}).status_code == 200
    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    path = f"/console/lists/{list_id}/mass-edit"
    edit = {
        "csrf_token": token_of(admin.get(path).text),
        "filter": "",
        "owner": "",
        "action": "set_owner",
        "owner_user_id": "ana",
        "agents": "",
        "note": "",
    }

    counted = admin.post(path, data=edit)

    assert 'id="matched">25<' in counted.text and 'id="changed">25<' in counted.text
    sample = re.findall(
        r'<tr id="sample-(\d+)">.*?class="owner-now">(.*?)</td>.*?class="owner-after">(.*?)</td>',
        counted.text,
        re.S,
    )
    assert [int(r) for r, _, _ in sample] == [r["id"] for r in records[:20]]
    assert sample[0][1:] == ('<span translate="no">bob</span>', '<span translate="no">ana</span>')
    assert sample[1][1] == english("none (general pool)")
    refused = admin.post(path, data={**edit, "owner_user_id": ""})
    assert refused.status_code == 422 and "owner_user_id" in refused.text
    assert 'id="dry-run-sample"' not in refused.text
    owners = {
        r["owner_user_id"] for r in api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    }
    assert owners == {None, "bob"}  # neither the dry run nor the refusal changed anything
    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    assert supervisor.post(path, data=edit).status_code == 403


# --- the lead-filter builder --------------------------------------------------------------------


def test_the_builder_adds_and_removes_sets_groups_and_items_without_script_and_with_htmx(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    start_page = admin.get("/console/skills")
    assert builder_items(start_page.text, "filter") == [("0-0-0", "")]
    token = token_of(start_page.text)
    form = {"csrf_token": token, "name": "Licensed", "filter-field-0-0-0": "state"}

    grown = admin.post("/console/skills", data={**form, "builder": "filter:add-group-0"})
    assert grown.status_code == 200
    assert builder_items(grown.text, "filter") == [("0-0-0", "state"), ("0-1-0", "")]
    assert 'value="Licensed"' in grown.text
    swapped = admin.post(
        "/console/skills",
        data={**form, "builder": "filter:add-item-0-0"},
        headers={"HX-Request": "true"},
    )
    assert builder_items(swapped.text, "filter") == [("0-0-0", "state"), ("0-0-1", "")]
    assert 'hx-select="#filter-builder"' in swapped.text
    more = admin.post("/console/skills", data={**form, "builder": "filter:add-set"})
    assert builder_items(more.text, "filter") == [("0-0-0", "state"), ("1-0-0", "")]
    fewer = admin.post(
        "/console/skills",
        data={**form, "filter-field-1-0-0": "tier", "builder": "filter:remove-set-0"},
    )
    assert builder_items(fewer.text, "filter") == [("0-0-0", "tier")]
    emptied = admin.post("/console/skills", data={**form, "builder": "filter:remove-item-0-0-0"})
    assert builder_items(emptied.text, "filter") == [("0-0-0", "")]
    wrong = admin.post("/console/skills", data={**form, "builder": "filter:remove-set-7"})
    assert wrong.status_code == 422 and "builder" in wrong.text
    assert api.get("/api/v1/skills").json() == []  # no step saves anything

    built = {
        "csrf_token": token,
        "name": "Licensed",
        # Set 1: (state AZ or state NV) and no owner; or set 2: a gold or silver tier.
        "filter-field-0-0-0": "state",
        "filter-op-0-0-0": "==",
        "filter-value-0-0-0": "AZ",
        "filter-field-0-0-1": "state",
        "filter-op-0-0-1": "==",
        "filter-value-0-0-1": "NV",
        "filter-field-0-1-0": "@owner",
        "filter-op-0-1-0": "empty",
        "filter-value-0-1-0": "",
        "filter-field-1-0-0": "tier",
        "filter-op-1-0-0": "in",
        "filter-value-1-0-0": "Gold, Silver",
    }
    refused = admin.post("/console/skills", data={**built, "filter-value-1-0-0": ""})
    assert refused.status_code == 422 and "filter</span>):" in refused.text
    assert builder_items(refused.text, "filter")[3] == ("1-0-0", "tier")
    assert api.get("/api/v1/skills").json() == []
    saved = admin.post("/console/skills", data=built, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    (found,) = api.get("/api/v1/skills").json()
    assert found["expression"] == (
        '(state == "AZ" and @owner empty) or (state == "NV" and @owner empty) '
        'or tier in ("Gold", "Silver")'
    )
    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    assert supervisor.post("/console/skills", data=built).status_code == 403


def test_a_campaigns_default_lead_filter_is_edited_with_the_same_builder(
    app_client: TestClient, api: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads(None, "AZ", 2, 0))
    campaign_id = lead_campaign(api, list_id, [alice], default_lead_filter='state == "CA"')
    path = f"/console/campaigns/{campaign_id}"
    admin = signed_in(app_client, make_user("admin", email="ada@example.com"))
    shown = admin.get(path)
    assert builder_items(shown.text, "lead_filter") == [("0-0-0", "state")]
    assert 'id="lead_filter-value-0-0-0" name="lead_filter-value-0-0-0" value="CA"' in shown.text
    sent = form_of(shown.text, "campaign-form")

    stepped = admin.post(path, data={**sent, "builder": "lead_filter:add-set"})
    assert stepped.status_code == 200
    assert builder_items(stepped.text, "lead_filter") == [("0-0-0", "state"), ("1-0-0", "")]
    settings = lambda: api.get(f"/api/v1/campaigns/{campaign_id}").json()["settings"]  # noqa: E731
    assert settings()["default_lead_filter"] == 'state == "CA"'

    changed = {
        **sent,
        "lead_filter-field-0-0-1": "state",
        "lead_filter-op-0-0-1": "==",
        "lead_filter-value-0-0-1": "AZ",
        "lead_filter-field-0-1-0": "@owner",
        "lead_filter-op-0-1-0": "empty",
    }
    refused = admin.post(
        path, data={**changed, "lead_filter-op-0-0-1": "in", "lead_filter-value-0-0-1": ""}
    )
    assert refused.status_code == 422
    assert builder_items(refused.text, "lead_filter")[1] == ("0-0-1", "state")
    assert settings()["default_lead_filter"] == 'state == "CA"'
    saved = admin.post(path, data=changed, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert settings()["default_lead_filter"] == (
        '(state == "CA" and @owner empty) or (state == "AZ" and @owner empty)'
    )
    cleared = {k: v for k, v in sent.items() if not k.startswith("lead_filter-")}
    assert admin.post(path, data=cleared, follow_redirects=False).status_code == 303
    assert settings()["default_lead_filter"] is None

    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    read_only = supervisor.get(path)
    assert 'name="lead_filter-field-0-0-0" value="" translate="no" disabled' in read_only.text
    assert 'value="lead_filter:add-set"' not in read_only.text
    assert supervisor.post(path, data=changed).status_code == 403


# --- the dashboard's abandon rate ---------------------------------------------------------------


def test_the_dashboard_shows_the_abandon_rate_against_its_target_or_why_there_is_none(
    app_client: TestClient, api: TestClient, make_user: MakeUser, db: Database
) -> None:
    uow = SqlUnitOfWork(db)
    floor = create_floor(uow, T0, agents=1, records=5, mode=DialingMode.PREDICTIVE, seed=3)
    supervisor = signed_in(app_client, make_user("supervisor", email="sol@example.com"))
    path = f"/console/dashboard/{floor.campaign_id}/live"
    empty = supervisor.get(path, headers={"HX-Request": "true"})
    assert empty.status_code == 200
    assert english(dashboard.ABANDON_NOT_YET) in empty.text

    n = 0
    for day, answered, abandoned in ((1, 20, 2), (0, 50, 1)):
        for k in range(answered):
            n += 1
            result = CallResult.ABANDONED if k < abandoned else CallResult.CONNECTED
            add_call(uow, floor.campaign_id, n, T0 - timedelta(days=day), result)
    board = supervisor.get(f"/console/dashboard?campaign={floor.campaign_id}")
    assert 'id="abandon-rate" class="over">4.29%<' in board.text  # 3 of 70, over 3%
    assert 'id="abandon-target">3%<' in board.text
    assert 'id="abandon-days-over">1<' in board.text
    assert 'id="abandon-calls">3 / 70<' in board.text
    assert board.text.count('<tr class="over">') == 1
    assert english(dashboard.ABANDON_NOT_YET) not in board.text

    (ana,) = agents(make_user, "ana")
    preview = make_campaign(api, make_list(api, owned_rows(["ana"])), make_queue(api, [ana]))
    other = supervisor.get(f"/console/dashboard?campaign={preview}")
    assert english(dashboard.ABANDON_NOT_DIALLING) in other.text
    assert supervisor.get("/console/dashboard/999/live").status_code == 404
    assert signed_in(app_client, ana).get(path).status_code == 403
