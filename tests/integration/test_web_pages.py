"""The pages without a browser (Starlette's TestClient, a frozen clock): sign-in and its
messages, sessions that end, where each user lands, the forms' CSRF check, the language, and
the services' refusals as the workspace words them (so that a change of a service's wording
that the page no longer recognises fails here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.web import messages as m
from callhopper.web.i18n import translations
from tests.campaign_helpers import (
    append,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser, Person

PASSWORD = "correct horse"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_RECORD = re.compile(r"#record-(\d+)-(\d+)$")


def english(message: str) -> str:
    return translations("en").gettext(message)


def token_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, person: Person, password: str = PASSWORD) -> Any:
    form = client.get("/signin")
    return client.post(
        "/signin",
        data={"csrf_token": token_of(form.text), "email": person.email, "password": password},
        follow_redirects=False,
    )


@pytest.fixture
def pages(app_client: TestClient) -> TestClient:
    """A browser without scripts: no credentials but the cookies it is given."""
    return app_client


@pytest.fixture
def agent(make_user: MakeUser) -> Person:
    return make_user("agent", email="ana@example.com", user_id="ana")


def test_signed_out_visitors_are_sent_to_the_sign_in_form(pages: TestClient) -> None:
    home = pages.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/signin")
    workspace = pages.get("/workspace", follow_redirects=False)
    assert workspace.headers["location"] == "/signin?next=/workspace"
    form = pages.get("/signin")
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert 'autocomplete="current-password"' in form.text


def test_a_wrong_password_and_a_deactivated_user_read_a_message_on_the_page(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    refused = sign_in(pages, agent, "wrong")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("text/html")
    assert english(m.SIGN_IN_FAILED) in refused.text
    assert 'value="ana@example.com"' in refused.text  # the email stays typed
    assert api.post(f"/api/v1/users/{agent.user_id}/deactivate").status_code == 200
    deactivated = sign_in(pages, agent)
    assert deactivated.status_code == 401
    assert english(m.SIGN_IN_FAILED) in deactivated.text


def test_agents_land_in_the_workspace_and_others_in_the_console(
    pages: TestClient, make_user: MakeUser, agent: Person
) -> None:
    assert sign_in(pages, agent).headers["location"] == "/workspace"
    pages.cookies.clear()
    supervisor = make_user("supervisor", email="sol@example.com")
    assert sign_in(pages, supervisor).headers["location"] == "/console"
    start_page = pages.get("/console")
    assert 'href="/docs"' in start_page.text and 'href="/workspace"' not in start_page.text
    refused = pages.get("/workspace")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert english(m.PERMISSION_DENIED) in refused.text
    pages.cookies.clear()
    admin = make_user("admin", email="ada@example.com")
    sign_in(pages, admin)
    assert 'href="/workspace"' in pages.get("/console").text  # an admin may work records too


def test_an_ended_session_sends_the_agent_back_to_sign_in_with_a_message(
    pages: TestClient, api: TestClient, clock: FrozenClock, agent: Person
) -> None:
    sign_in(pages, agent)
    assert pages.get("/workspace").status_code == 200
    clock.advance(timedelta(hours=13))  # past the session's 12 hours
    live = pages.get("/workspace/campaigns", headers={"HX-Request": "true"})
    assert live.status_code == 401 and live.headers["hx-redirect"] == "/signin?expired=1"
    sign_in(pages, agent)
    clock.advance(timedelta(hours=13))
    expired = pages.get("/workspace", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/signin?expired=1&next=/workspace"
    assert "callhopper_session" not in pages.cookies  # the dead session's cookie is gone
    assert english(m.SESSION_EXPIRED) in pages.get("/signin?expired=1").text

    sign_in(pages, agent)
    assert api.post(f"/api/v1/users/{agent.user_id}/deactivate").status_code == 200
    gone = pages.get("/workspace", follow_redirects=False)
    assert gone.headers["location"].startswith("/signin?expired=1")


def test_sign_out_ends_the_session(pages: TestClient, agent: Person) -> None:
    sign_in(pages, agent)
    secret = pages.cookies["callhopper_session"]
    token = token_of(pages.get("/workspace").text)
    out = pages.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/signin"
    pages.cookies.set("callhopper_session", secret)  # the old cookie no longer works
    assert pages.get("/workspace", follow_redirects=False).status_code == 303


def test_forms_without_their_csrf_token_are_refused(pages: TestClient, agent: Person) -> None:
    form = pages.get("/signin")
    stolen = token_of(form.text)
    pages.cookies.clear()  # another browser: its own nonce, so the token is not its own
    pages.get("/signin")
    refused = pages.post(
        "/signin",
        data={"csrf_token": stolen, "email": agent.email, "password": PASSWORD},
    )
    assert refused.status_code == 403 and "callhopper_session" not in pages.cookies
    sign_in(pages, agent)
    for path in ("/workspace/channels/voice", "/signout", "/language"):
        no_token = pages.post(path, data={"ready": "1", "lang": "ja"})
        assert no_token.status_code == 403, path
        assert english(m.FORM_EXPIRED) in no_token.text
    token = token_of(pages.get("/workspace").text)
    by_header = pages.post(
        "/workspace/channels/voice",
        data={"ready": "1"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert by_header.status_code == 200
    assert english(m.CHANNEL_STATE[("voice", True)]) in by_header.text


def test_the_language_is_the_choice_else_the_browsers(pages: TestClient, agent: Person) -> None:
    japanese = "マイキャンペーン"
    sign_in(pages, agent)
    assert japanese not in pages.get("/workspace").text
    assert japanese in pages.get("/workspace", headers={"Accept-Language": "ja-JP,ja;q=0.9"}).text
    token = token_of(pages.get("/workspace").text)
    chosen = pages.post(
        "/language",
        data={"csrf_token": token, "lang": "ja", "next": "/workspace"},
        follow_redirects=False,
    )
    assert chosen.headers["location"] == "/workspace"
    page = pages.get("/workspace", headers={"Accept-Language": "en"})
    assert japanese in page.text and '<html lang="ja">' in page.text
    elsewhere = pages.post(
        "/language",
        data={"csrf_token": token, "lang": "en", "next": "https://example.com/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/"  # never to another site


def test_a_chosen_language_follows_the_user_to_another_browser(
    pages: TestClient, agent: Person
) -> None:
    japanese = "マイキャンペーン"
    sign_in(pages, agent)
    token = token_of(pages.get("/workspace").text)
    pages.post("/language", data={"csrf_token": token, "lang": "ja", "next": "/workspace"})
    assert pages.get("/api/v1/auth/me").json()["language"] == "ja"

    pages.cookies.clear()  # another browser: no language cookie, an English one
    sign_in(pages, agent)
    page = pages.get("/workspace", headers={"Accept-Language": "en-US"})
    assert japanese in page.text and '<html lang="ja">' in page.text

    # The API sets it too, and refuses a language the pages do not speak, naming the field.
    assert pages.patch("/api/v1/auth/me", json={"language": "en"}).json()["language"] == "en"
    assert japanese not in pages.get("/workspace").text
    refused = pages.patch("/api/v1/auth/me", json={"language": "fr"})
    assert refused.status_code == 422 and "language" in refused.text


# --- the services' refusals, worded for an agent -------------------------------------------------


@dataclass
class Workspace:
    list_id: int
    campaign_id: int
    token: str


def workspace_of(pages: TestClient, api: TestClient, agent: Person, **settings: Any) -> Workspace:
    """A started preview campaign of ``agent`` (accounts in Phoenix, calling window
    07:00-21:00 there; the clock is at 08:00 there), the agent signed in."""
    list_id = make_list(api, owned_rows([agent.user_id] * 3))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [agent]),
        calling_window={"start": "07:00", "end": "21:00"},
        settings=settings,
    )
    start(api, campaign_id)
    sign_in(pages, agent)
    return Workspace(list_id, campaign_id, token_of(pages.get("/workspace").text))


def get_record(pages: TestClient, workspace: Workspace) -> tuple[str, int]:
    """Get Record through the form; the record's URL and id."""
    got = pages.post(
        f"/workspace/campaigns/{workspace.campaign_id}/get-record",
        data={"csrf_token": workspace.token},
        follow_redirects=False,
    )
    found = _RECORD.search(got.headers["location"])
    assert found is not None, got.headers
    url = f"/workspace/campaigns/{found.group(1)}/records/{found.group(2)}"
    return url, int(found.group(2))


def act(pages: TestClient, url: str, token: str, **data: str) -> Any:
    return pages.post(url, data={"csrf_token": token, **data}, headers={"HX-Request": "true"})


def test_refusals_read_as_what_to_do_next(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    workspace = workspace_of(pages, api, agent, allow_skip=False)
    record, _ = get_record(pages, workspace)
    token = workspace.token
    cases = [
        ("skip", {}, 409, _conflict("skip_not_allowed")),
        ("done", {}, 422, m.CHOOSE_CODE),
        ("call", {"number": "(602) 555-0100"}, 409, _conflict("manual_dial_not_allowed")),
        ("callback", {"at": "2026-03-01T10:00"}, 422, m.CALLBACK_IN_PAST),
        ("callback", {"at": "2026-03-03T22:30"}, 422, m.CALLBACK_OUTSIDE_WINDOW),
        ("callback", {"at": ""}, 422, m.CALLBACK_TIME_NEEDED),
        ("callback/cancel", {}, 404, m.NO_CALLBACK),
        ("call", {}, 200, m.CALLING),
        ("decline", {"action": "call_later"}, 409, _conflict("wrapup_required")),
        ("wrapup", {"code": "sale", "field.balance": "9"}, 422, m.FIELD_READ_ONLY),
    ]
    for action, data, status, message in cases:
        answer = act(pages, f"{record}/{action}", token, **data)
        assert answer.status_code == status, (action, answer.text)
        assert english(message).split("%")[0] in answer.text, (action, answer.text)
        assert "{" not in answer.text.split("<")[0]  # HTML, never JSON


def _conflict(code: str) -> str:
    return m._CONFLICTS[code]


@pytest.mark.parametrize("allowed", [False, True])
def test_the_field_for_a_typed_number_shows_only_where_the_campaign_allows_it(
    pages: TestClient, api: TestClient, agent: Person, allowed: bool
) -> None:
    workspace = workspace_of(pages, api, agent, allow_manual_dial=allowed)
    record, _ = get_record(pages, workspace)
    assert ("Dial a new phone number" in pages.get(record).text) is allowed
    deliveries = api.get("/api/v1/agent/deliveries", headers=agent.headers).json()
    assert [d["allow_manual_dial"] for d in deliveries] == [allowed]


def test_a_form_post_without_scripts_comes_back_to_the_workspace_with_its_notice(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    workspace = workspace_of(pages, api, agent)
    record, _ = get_record(pages, workspace)
    done = pages.post(
        f"{record}/done",
        data={"csrf_token": workspace.token, "code": "no_answer"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/workspace"
    after = pages.get("/workspace")
    assert english(m.DONE) in after.text
    assert english(m.DONE) not in pages.get("/workspace").text  # once
    again = pages.post(f"{record}/done", data={"csrf_token": workspace.token, "code": "busy"})
    assert again.status_code == 404 and english(m.RECORD_GONE) in again.text


def test_only_the_fields_the_agent_changed_are_written(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    workspace = workspace_of(pages, api, agent)
    for changed in (False, True):
        record, record_id = get_record(pages, workspace)
        panel = pages.get(record, headers={"HX-Request": "true"}).text
        # The form as the page shows it: the checkbox sends its hidden "false" when it is
        # not ticked, beside the value it showed.
        assert 'name="shown.paid" value="false"' in panel
        ticked = ["true"] if changed else []
        done = pages.post(
            f"{record}/done",
            data={
                "csrf_token": workspace.token,
                "code": "no_answer",
                "field.paid": ["false", *ticked],
                "shown.paid": "false",
                "field.notes": "",
                "shown.notes": "",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
        data = api.get(f"/api/v1/contact-lists/{workspace.list_id}/records/{record_id}").json()
        assert data["data"].get("paid") == ("true" if changed else None), data


def two_number_campaign(api: TestClient, agent: Person, **settings: Any) -> tuple[int, int]:
    """A started preview campaign of ``agent``: accounts in Phoenix with a cell and a home
    number each; the list and the campaign."""
    created = api.post(
        "/api/v1/contact-lists",
        json={
            "name": "Two numbers",
            "columns": ["account", "cell", "home", "agent"],
            "phone_columns": [
                {"column": "cell", "type": "cell"},
                {"column": "home", "type": "home"},
            ],
            "agent_owned_column": "agent",
            "key_column": "account",
            "default_timezone": "America/Phoenix",
        },
    )
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    rows = [
        {"account": f"T{n}", "cell": f"(602) 555-01{n}0", "home": f"(602) 555-02{n}0"}
        for n in range(3)
    ]
    append(api, list_id, [{**row, "agent": agent.user_id} for row in rows])
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [agent]),
        sort=[{"column": "account"}],
        calling_window={"start": "07:00", "end": "21:00"},
        settings=settings,
    )
    start(api, campaign_id)
    return list_id, campaign_id


def test_the_do_not_call_cases_are_told_as_the_agents_guide_words_them(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    _, campaign_id = two_number_campaign(api, agent)
    dnc = api.post("/api/v1/dnc-lists", json={"name": "Opted out"}).json()["id"]
    listed = f"/api/v1/dnc-lists/{dnc}/numbers"
    assert api.post(listed, json={"numbers": ["+16025550100"]}).is_success  # T0's cell
    assert api.put(
        f"/api/v1/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [dnc]}
    ).is_success
    sign_in(pages, agent)
    workspace = Workspace(0, campaign_id, token_of(pages.get("/workspace").text))

    record, _ = get_record(pages, workspace)
    next_number = act(pages, f"{record}/call", workspace.token)
    assert next_number.status_code == 200
    assert english(m._DIAL_CASES["dnc_next"]) in next_number.text
    assert english(m.CALLING) % {"number": "+16025550200"} in _text(next_number.text)
    pages.post(f"{record}/done", data={"csrf_token": workspace.token, "code": "no_answer"})

    record, _ = get_record(pages, workspace)
    # T1's two numbers are listed while it is on screen (a record whose every number is
    # listed before it is delivered is never delivered at all).
    assert api.post(listed, json={"numbers": ["+16025550110", "+16025550210"]}).is_success
    closed = act(pages, f"{record}/call", workspace.token)
    assert closed.status_code == 200
    assert english(m._CLOSED["dnc"]) in closed.text
    assert '"callhopper:ended"' in closed.headers["hx-trigger"]  # the record leaves the screen
    assert 'class="panel record"' not in closed.text


def test_a_callback_comes_back_marked_in_its_origin_with_the_caller_id_choice(
    pages: TestClient, api: TestClient, agent: Person, clock: FrozenClock
) -> None:
    caller_ids = ["+14155550100", "+14155550101"]
    _, campaign_id = two_number_campaign(api, agent, caller_ids=caller_ids)
    sign_in(pages, agent)
    workspace = Workspace(0, campaign_id, token_of(pages.get("/workspace").text))
    record, _ = get_record(pages, workspace)
    panel = pages.get(record, headers={"HX-Request": "true"}).text
    assert all(f'<option value="{c}"' in panel for c in caller_ids)
    assert english("Campaign list") in panel
    called = act(pages, f"{record}/call", workspace.token, caller_id=caller_ids[1])
    expected = english(m.CALLING_FROM) % {"number": "+16025550100", "caller_id": caller_ids[1]}
    assert expected in _text(called.text)
    # 10:00 in Phoenix, two hours from now, back to this agent.
    scheduled = act(pages, f"{record}/callback", workspace.token, at="2026-03-02T10:00")
    assert scheduled.status_code == 200 and english("back to you") in scheduled.text
    pages.post(f"{record}/done", data={"csrf_token": workspace.token, "code": "callback"})
    clock.advance(timedelta(hours=2))
    back, _ = get_record(pages, workspace)
    assert back == record
    panel = pages.get(record, headers={"HX-Request": "true"}).text
    assert english("Personal Callback") in panel
    # The contact history shows the caller ID the earlier call showed.
    assert f'<td translate="no">{caller_ids[1]}</td>' in panel.split(english("Contact history"))[1]


def _text(html: str) -> str:
    """The words of ``html`` without its tags (the page marks data with spans)."""
    return re.sub(r"<[^>]+>", "", html)


# --- the browser phone ------------------------------------------------------------------------


def test_the_workspace_mounts_the_browser_phone_only_where_one_is_configured(
    settings: Settings, db: Database, clock: FrozenClock, agent: Person
) -> None:
    plain = create_app(settings, db, clock)
    with TestClient(plain) as client:
        sign_in(client, agent)
        page = client.get("/workspace").text
        assert 'id="softphone"' not in page and "jssip" not in page

    phoned = settings.model_copy(
        update={"softphone_ws_url": "wss://sip.example.com:8443", "sip_agent_password": "pw"}
    )
    with TestClient(create_app(phoned, db, clock)) as client:
        sign_in(client, agent)
        page = client.get("/workspace", headers={"Accept-Language": "ja"}).text
        assert 'data-ws-url="wss://sip.example.com:8443"' in page
        assert 'data-sip-uri="sip:ana@callhopper.local"' in page  # where the dialer calls
        assert 'data-msg-registered="電話の準備ができました"' in page
        assert "vendor/jssip/jssip.min.js" in page and "js/softphone.js" in page
        for name in m.SOFTPHONE:
            assert f"data-msg-{name}=" in page


def test_the_record_page_shows_a_phones_extension_and_call_says_to_dial_it(
    pages: TestClient, api: TestClient, agent: Person
) -> None:
    list_id = make_list(api, [])
    rows = owned_rows([agent.user_id])
    rows[0]["phone"] += " ext. 42"
    append(api, list_id, rows)
    campaign_id = make_campaign(api, list_id, make_queue(api, [agent]))
    start(api, campaign_id)
    sign_in(pages, agent)
    workspace = Workspace(list_id, campaign_id, token_of(pages.get("/workspace").text))
    record, _ = get_record(pages, workspace)
    panel = pages.get(record, headers={"HX-Request": "true"}).text
    assert english("ext. %(extension)s") % {"extension": "42"} in _text(panel)
    called = act(pages, f"{record}/call", workspace.token)
    assert english(m.DIAL_EXTENSION) % {"extension": "42"} in _text(called.text)
