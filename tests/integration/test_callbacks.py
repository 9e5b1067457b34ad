"""Callbacks through the API, on SQLite and PostgreSQL.

An agent schedules a callback on the record delivered to them: a date-time in the
contact's time zone (not in the past, inside the calling window there), optionally
another number, ``personal`` (back to them, or to the record's owner) or ``any`` (any
agent of the queue). It can be changed or cancelled until the record is closed; Done
applies it. When its time comes the record is delivered before every other record, to
whom the callback is for, and a personal callback waits for that agent however long.

The test clock starts on Monday 2026-03-02 at 15:00 UTC: 08:00 in Phoenix (UTC-7 all
year), 10:00 in New York (UTC-5 until Sunday 2026-03-08, then UTC-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from callhopper.clock import FrozenClock
from tests.campaign_helpers import (
    account,
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    phone,
    start,
)
from tests.support import MakeUser, Person

API = "/api/v1"
#: What the test client answers (its HTTP library is Starlette's business).
Response = Any
PHOENIX, NEW_YORK = "America/Phoenix", "America/New_York"
WINDOW = {"start": "08:00", "end": "21:00"}
OTHER_NUMBER, OTHER_E164 = "(602) 555-0199", "+16025550199"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def instant(value: str) -> datetime:
    """An instant the API wrote (with its offset), in UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# --- building blocks -----------------------------------------------------------------------------


def zoned_list(api: TestClient, zones: list[str], owners: list[str] | None = None) -> int:
    """Accounts A00000… with a phone, an IANA zone column and an agent column."""
    created = api.post(
        f"{API}/contact-lists",
        json={
            "name": "Contacts",
            "columns": ["account", "phone", "agent", "tz"],
            "phone_columns": ["phone"],
            "agent_owned_column": "agent",
            "key_column": "account",
            "timezone_source": {"kind": "iana", "column": "tz"},
            "default_timezone": PHOENIX,
        },
    )
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    rows = [
        {
            "account": f"A{n:05d}",
            "phone": phone(n),
            "agent": owners[n] if owners else "",
            "tz": zone,
        }
        for n, zone in enumerate(zones)
    ]
    report = api.post(f"{API}/contact-lists/{list_id}/records", json={"records": rows}).json()
    assert report["rows_rejected"] == 0, report
    return list_id


@dataclass(frozen=True)
class Floor:
    campaign_id: int
    alice: Person
    bob: Person


def floor(api: TestClient, make_user: MakeUser, zones: list[str], **campaign: Any) -> Floor:
    """A running preview campaign (no owners) on ``zones``' contacts, alice and bob in it."""
    alice, bob = agents(make_user, "alice", "bob")
    campaign_id = make_campaign(
        api,
        zoned_list(api, zones),
        make_queue(api, [alice, bob]),
        agent_owned_column=None,
        calling_window=campaign.pop("calling_window", WINDOW),
        sort=[{"column": "account"}],
        **campaign,
    )
    start(api, campaign_id)
    return Floor(campaign_id, alice, bob)


def lead_floor(
    api: TestClient, app_client: TestClient, people: list[Person], *, leads: int
) -> tuple[int, int]:
    """A lead-ownership campaign on general leads L0…, the people logged in and
    the hopper loaded; the list's and the campaign's ids."""
    created = api.post(
        f"{API}/contact-lists",
        json={
            "name": "Leads",
            "columns": ["lead", "phone", "owner"],
            "phone_columns": ["phone"],
            "lead_owner_column": "owner",
            "key_column": "lead",
            "default_timezone": PHOENIX,
        },
    )
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    rows = [{"lead": f"L{n}", "phone": phone(n), "owner": ""} for n in range(leads)]
    api.post(f"{API}/contact-lists/{list_id}/records", json={"records": rows})
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, people),
        agent_owned_column=None,
        enforce_lead_ownership=True,
        calling_window=WINDOW,
        sort=[{"column": "lead"}],
    )
    start(api, campaign_id)
    for who in people:
        app_client.post(f"{API}/agent/campaigns/{campaign_id}/login", headers=who.headers)
    assert api.post(f"{API}/campaigns/{campaign_id}/hopper/load").status_code == 200
    return list_id, campaign_id


def _record_url(campaign_id: int, record_id: int, action: str) -> str:
    return f"{API}/agent/campaigns/{campaign_id}/records/{record_id}/{action}"


def schedule(
    client: TestClient, who: Person, campaign_id: int, record_id: int, **body: Any
) -> Response:
    body.setdefault("kind", "personal")
    return client.post(
        _record_url(campaign_id, record_id, "callback"), json=body, headers=who.headers
    )


def scheduled(
    client: TestClient, who: Person, campaign_id: int, record_id: int, **body: Any
) -> dict[str, Any]:
    response = schedule(client, who, campaign_id, record_id, **body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def cancel(client: TestClient, who: Person, campaign_id: int, record_id: int) -> Response:
    return client.delete(_record_url(campaign_id, record_id, "callback"), headers=who.headers)


def report(api: TestClient, campaign_id: int, *, due: bool = False) -> list[dict[str, Any]]:
    response = api.get(f"{API}/campaigns/{campaign_id}/callbacks", params={"due": due})
    assert response.status_code == 200, response.text
    return list(response.json())


def take(client: TestClient, who: Person, campaign_id: int) -> dict[str, Any]:
    """Get Record, which must deliver something."""
    delivery = get_record(client, who, campaign_id)
    assert delivery is not None, f"{who.user_id} got nothing"
    return delivery


def due(response: Response) -> datetime:
    """The due time of an accepted callback."""
    assert response.status_code == 200, response.text
    return instant(response.json()["due_at"])


def refused(response: Response, field: str, *words: str) -> None:
    """A 422 that names the field and says why."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in str(error.get("details", {})), error
    for word in words:
        assert word in error["message"], error["message"]


# --- who gets a callback, and when ------------------------------------------------------------


def test_a_personal_callback_comes_back_to_its_agent_only_and_first(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    f = floor(api, make_user, [PHOENIX] * 5)
    first = take(app_client, f.alice, f.campaign_id)
    assert account(first) == "A00000"
    cb = scheduled(app_client, f.alice, f.campaign_id, first["record_id"], at="2026-03-02T10:00:00")
    assert cb["kind"] == "personal" and cb["agent_user_id"] == "alice"
    assert instant(cb["due_at"]) == utc("2026-03-02T17:00")  # 10:00 in Phoenix
    assert cb["status"] == "scheduled" and cb["number"] is None
    shown = take(app_client, f.alice, f.campaign_id)["callback"]
    assert shown["origin"] == "personal callback" and shown["state"] == "scheduled"
    done(app_client, f.alice, f.campaign_id, first["record_id"], code="callback")

    # Before its time the record waits, even for alice.
    clock.set(utc("2026-03-02T16:59"))
    early = take(app_client, f.alice, f.campaign_id)
    assert account(early) == "A00001"
    done(app_client, f.alice, f.campaign_id, early["record_id"], code="sale")
    assert report(api, f.campaign_id, due=True) == []

    # Its time has come: bob never gets it, although it is due and first in order ...
    clock.set(utc("2026-03-02T17:00"))
    waiting = report(api, f.campaign_id, due=True)
    assert [(w["record_id"], w["agent_user_id"]) for w in waiting] == [
        (first["record_id"], "alice")
    ]
    bobs = take(app_client, f.bob, f.campaign_id)
    assert account(bobs) == "A00002"
    # ... and alice gets it before the records still to be called (A00003, A00004).
    back = take(app_client, f.alice, f.campaign_id)
    assert back["record_id"] == first["record_id"]
    assert back["callback"]["origin"] == "personal callback"
    assert back["callback"]["state"] == "delivered"
    assert report(api, f.campaign_id, due=True) == []
    done(app_client, f.bob, f.campaign_id, bobs["record_id"], code="sale")
    rest = []
    while (delivery := get_record(app_client, f.bob, f.campaign_id)) is not None:
        rest.append(account(delivery))
        done(app_client, f.bob, f.campaign_id, delivery["record_id"], code="sale")
    assert rest == ["A00003", "A00004"]

    done(app_client, f.alice, f.campaign_id, back["record_id"], code="sale")
    assert report(api, f.campaign_id) == []  # handled: no longer pending


def test_an_any_callback_goes_to_any_agent_of_the_queue_and_due_ones_come_first(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    f = floor(api, make_user, [PHOENIX] * 4)
    a0 = take(app_client, f.alice, f.campaign_id)
    cb = scheduled(
        app_client, f.alice, f.campaign_id, a0["record_id"], at="2026-03-02T10:30:00", kind="any"
    )
    assert cb["kind"] == "any" and cb["agent_user_id"] is None
    done(app_client, f.alice, f.campaign_id, a0["record_id"], code="callback")
    a1 = take(app_client, f.alice, f.campaign_id)
    scheduled(
        app_client, f.alice, f.campaign_id, a1["record_id"], at="2026-03-02T10:00:00", kind="any"
    )
    done(app_client, f.alice, f.campaign_id, a1["record_id"], code="callback")

    clock.set(utc("2026-03-02T17:30"))  # 10:30 in Phoenix: both due
    assert [w["record_id"] for w in report(api, f.campaign_id, due=True)] == [
        a1["record_id"],
        a0["record_id"],
    ]
    # Bob, who scheduled neither, gets both, the earliest first, before A00002 and A00003.
    order = []
    for _ in range(4):
        delivery = take(app_client, f.bob, f.campaign_id)
        order.append(account(delivery))
        if delivery["callback"] is not None:
            assert delivery["callback"]["origin"] == "callback"
        done(app_client, f.bob, f.campaign_id, delivery["record_id"], code="sale")
    assert order == ["A00001", "A00000", "A00002", "A00003"]


def test_a_personal_callback_of_an_agent_owned_record_waits_for_its_owner(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    """The seeds warn that their product may send it to another agent of the queue; here
    it goes to the owner, however long they are away, and the report shows it waiting."""
    alice, bob = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(["alice", "alice", "bob", "bob", "bob"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice, bob]), calling_window=WINDOW)
    start(api, campaign_id)
    mine = take(app_client, alice, campaign_id)
    assert account(mine) == "A00000"
    cb = scheduled(app_client, alice, campaign_id, mine["record_id"], at="2026-03-02T10:00:00")
    assert cb["agent_user_id"] == "alice"
    done(app_client, alice, campaign_id, mine["record_id"], code="callback")
    logout = app_client.post(f"{API}/agent/campaigns/{campaign_id}/logout", headers=alice.headers)
    assert logout.status_code == 204

    clock.set(utc("2026-03-02T17:00"))
    seen = []
    while (delivery := get_record(app_client, bob, campaign_id)) is not None:
        seen.append(account(delivery))
        done(app_client, bob, campaign_id, delivery["record_id"], code="sale")
    assert seen == ["A00002", "A00003", "A00004"]
    clock.set(utc("2026-03-03T03:00"))  # still waiting at the end of the day ...
    assert get_record(app_client, bob, campaign_id) is None
    waiting = report(api, campaign_id, due=True)
    assert [
        (w["record_id"], w["kind"], w["agent_user_id"], w["agent_logged_in"]) for w in waiting
    ] == [(mine["record_id"], "personal", "alice", False)]

    clock.set(utc("2026-03-03T15:00"))  # ... and the next morning it is alice's first record
    back = take(app_client, alice, campaign_id)
    assert back["record_id"] == mine["record_id"]
    assert back["callback"]["origin"] == "personal callback"


def test_a_personal_callback_of_an_owned_lead_goes_to_the_owner_not_the_scheduler(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    """Lead ownership: bob works two general leads. While he is on a call with
    the first an admin gives it to alice (bob keeps it to wrap the call up; a lead not
    dialled yet would leave him at once): bob's personal callback on it is alice's. His
    personal callback on the second, still general, is his own. Neither goes to the
    other."""
    alice, bob = agents(make_user, "alice", "bob")
    list_id, campaign_id = lead_floor(api, app_client, [alice, bob], leads=3)

    given = take(app_client, bob, campaign_id)
    dialled = app_client.post(
        _record_url(campaign_id, given["record_id"], "call"), json={}, headers=bob.headers
    )
    assert dialled.status_code == 200, dialled.text
    owner = api.put(
        f"{API}/contact-lists/{list_id}/records/{given['record_id']}/owner",
        json={"owner": "alice", "reason": "her customer"},
    )
    assert owner.status_code == 200, owner.text
    cb = scheduled(app_client, bob, campaign_id, given["record_id"], at="2026-03-02T10:00:00")
    assert cb["agent_user_id"] == "alice"
    done(app_client, bob, campaign_id, given["record_id"], code="callback")
    general = take(app_client, bob, campaign_id)
    cb = scheduled(app_client, bob, campaign_id, general["record_id"], at="2026-03-02T10:00:00")
    assert cb["agent_user_id"] == "bob"
    done(app_client, bob, campaign_id, general["record_id"], code="callback")

    clock.set(utc("2026-03-02T17:00"))
    assert api.post(f"{API}/campaigns/{campaign_id}/hopper/load").status_code == 200
    alices = []
    while (delivery := get_record(app_client, alice, campaign_id)) is not None:
        alices.append(delivery["record_id"])
        done(app_client, alice, campaign_id, delivery["record_id"], code="sale")
    assert alices[0] == given["record_id"] and general["record_id"] not in alices
    back = take(app_client, bob, campaign_id)
    assert back["record_id"] == general["record_id"]
    assert back["callback"]["origin"] == "personal callback"
    done(app_client, bob, campaign_id, back["record_id"], code="sale")
    assert get_record(app_client, bob, campaign_id) is None


# --- other number, change, cancel --------------------------------------------------------------


def test_a_callback_to_another_number(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    f = floor(api, make_user, [PHOENIX] * 2)
    held = take(app_client, f.alice, f.campaign_id)
    bad = schedule(
        app_client, f.alice, f.campaign_id, held["record_id"], at="2026-03-02T10:00:00", number="12"
    )
    refused(bad, "number")
    cb = scheduled(
        app_client,
        f.alice,
        f.campaign_id,
        held["record_id"],
        at="2026-03-02T10:00:00",
        number=OTHER_NUMBER,
        note="her office line",
    )
    assert (cb["number"], cb["note"]) == (OTHER_E164, "her office line")
    done(app_client, f.alice, f.campaign_id, held["record_id"], code="callback")
    clock.set(utc("2026-03-02T17:00"))
    back = take(app_client, f.alice, f.campaign_id)
    assert back["record_id"] == held["record_id"]
    assert (back["callback"]["number"], back["callback"]["note"]) == (
        OTHER_E164,
        "her office line",
    )


def test_calling_a_callback_dials_its_number(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    f = floor(api, make_user, [PHOENIX])
    held = take(app_client, f.alice, f.campaign_id)
    scheduled(
        app_client,
        f.alice,
        f.campaign_id,
        held["record_id"],
        at="2026-03-02T10:00:00",
        number=OTHER_NUMBER,
    )
    done(app_client, f.alice, f.campaign_id, held["record_id"], code="callback")
    clock.set(utc("2026-03-02T17:00"))
    back = take(app_client, f.alice, f.campaign_id)
    call = app_client.post(
        _record_url(f.campaign_id, back["record_id"], "call"), json={}, headers=f.alice.headers
    )
    assert call.status_code == 200, call.text
    assert call.json()["number"] == OTHER_E164


def test_change_and_cancel_until_the_record_is_closed(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    f = floor(api, make_user, [PHOENIX] * 2)
    held = take(app_client, f.alice, f.campaign_id)
    record_id = held["record_id"]
    first = scheduled(app_client, f.alice, f.campaign_id, record_id, at="2026-03-02T10:00:00")
    changed = scheduled(
        app_client,
        f.alice,
        f.campaign_id,
        record_id,
        at="2026-03-02T11:00:00",
        kind="any",
        number=OTHER_NUMBER,
    )
    assert changed["id"] == first["id"]
    assert (changed["kind"], changed["agent_user_id"], changed["number"]) == (
        "any",
        None,
        OTHER_E164,
    )
    assert instant(changed["due_at"]) == utc("2026-03-02T18:00")
    assert [(c["id"], instant(c["due_at"])) for c in report(api, f.campaign_id)] == [
        (first["id"], utc("2026-03-02T18:00"))
    ]

    assert cancel(app_client, f.alice, f.campaign_id, record_id).status_code == 204
    assert report(api, f.campaign_id) == []
    assert take(app_client, f.alice, f.campaign_id)["callback"] is None
    again = cancel(app_client, f.alice, f.campaign_id, record_id)
    assert again.status_code == 404 and "no callback" in again.json()["error"]["message"]

    # Scheduled again: a code that closes the record is refused while it stands, and so
    # is Done once its time has passed without being changed.
    scheduled(app_client, f.alice, f.campaign_id, record_id, at="2026-03-02T08:30:00")
    final = app_client.post(
        _record_url(f.campaign_id, record_id, "done"),
        json={"code": "sale"},
        headers=f.alice.headers,
    )
    refused(final, "code", "callback is scheduled")
    clock.set(utc("2026-03-02T15:31"))
    late = app_client.post(
        _record_url(f.campaign_id, record_id, "done"),
        json={"code": "callback"},
        headers=f.alice.headers,
    )
    refused(late, "callback", "has passed")
    scheduled(app_client, f.alice, f.campaign_id, record_id, at="2026-03-02T09:00:00")
    done(app_client, f.alice, f.campaign_id, record_id, code="callback")

    # Closed: the callback stands as it was; nobody changes or cancels it any more.
    for who in (f.alice, f.bob):
        assert (
            schedule(
                app_client, who, f.campaign_id, record_id, at="2026-03-02T12:00:00"
            ).status_code
            == 404
        )
        assert cancel(app_client, who, f.campaign_id, record_id).status_code == 404
    [standing] = report(api, f.campaign_id)
    assert (instant(standing["due_at"]), standing["status"]) == (
        utc("2026-03-02T16:00"),
        "scheduled",
    )


def test_a_callback_rescheduled_while_it_is_being_handled_is_kept(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    """The contact called back asks for another time: the new callback stands after Done."""
    f = floor(api, make_user, [PHOENIX] * 3)
    held = take(app_client, f.alice, f.campaign_id)
    scheduled(app_client, f.alice, f.campaign_id, held["record_id"], at="2026-03-02T10:00:00")
    done(app_client, f.alice, f.campaign_id, held["record_id"], code="callback")
    clock.set(utc("2026-03-02T17:00"))
    back = take(app_client, f.alice, f.campaign_id)
    assert back["record_id"] == held["record_id"]
    assert back["callback"]["state"] == "delivered"
    # Nothing to cancel: the callback being handled is not a scheduled one.
    assert cancel(app_client, f.alice, f.campaign_id, held["record_id"]).status_code == 404
    later = scheduled(
        app_client, f.alice, f.campaign_id, held["record_id"], at="2026-03-03T09:00:00"
    )
    assert later["status"] == "scheduled" and instant(later["due_at"]) == utc("2026-03-03T16:00")
    done(app_client, f.alice, f.campaign_id, held["record_id"], code="callback")
    assert [(c["record_id"], c["status"]) for c in report(api, f.campaign_id)] == [
        (held["record_id"], "scheduled")
    ]
    clock.set(utc("2026-03-03T16:00"))
    assert take(app_client, f.alice, f.campaign_id)["record_id"] == held["record_id"]


# --- refusals ----------------------------------------------------------------------------------


def test_refused_in_the_past_or_outside_the_window_in_the_contact_zone(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    # Weekdays 08:00-21:00; A00000 lives in New York, A00001 in Phoenix.
    f = floor(
        api,
        make_user,
        [NEW_YORK, PHOENIX],
        calling_window={**WINDOW, "days": [0, 1, 2, 3, 4]},
    )
    ny = take(app_client, f.alice, f.campaign_id)
    az = take(app_client, f.bob, f.campaign_id)
    assert (ny["timezone"], az["timezone"]) == (NEW_YORK, PHOENIX)

    def ask(delivery: dict[str, Any], at: str, who: Person, **body: Any) -> Response:
        return schedule(app_client, who, f.campaign_id, delivery["record_id"], at=at, **body)

    # A time without an offset is the contact's local time: 09:59 in New York has passed.
    refused(ask(ny, "2026-03-02T09:59:00", f.alice), "at", "in the past", NEW_YORK)
    refused(ask(ny, "2026-03-02T15:00:00Z", f.alice), "at", "in the past")  # exactly now
    # The window's edges, in the contact's zone: 08:00 and 20:59 are in, 07:59 and 21:00 out.
    refused(ask(ny, "2026-03-03T07:59:00", f.alice), "at", "outside the calling window", NEW_YORK)
    refused(ask(ny, "2026-03-02T21:00:00", f.alice), "at", "08:00 to 21:00")
    assert due(ask(ny, "2026-03-03T08:00:00", f.alice)) == utc("2026-03-03T13:00")
    assert due(ask(ny, "2026-03-02T20:59:00", f.alice)) == utc("2026-03-03T01:59")
    # One instant, two contacts: 21:30 in New York is outside, 19:30 in Phoenix inside.
    refused(ask(ny, "2026-03-03T02:30:00Z", f.alice), "at", "21:30")
    assert ask(az, "2026-03-03T02:30:00Z", f.bob).status_code == 200
    # An offset other than the contact's is converted: 10:00 in Phoenix is 12:00 in New York.
    assert due(ask(ny, "2026-03-03T10:00:00-07:00", f.alice)) == utc("2026-03-03T17:00")
    # Saturday is not a calling day.
    refused(ask(ny, "2026-03-07T10:00:00", f.alice), "at", "outside the calling window")
    # After the switch to summer time (Sunday 2026-03-08) 08:30 in New York is 12:30 UTC,
    # and 12:30 UTC is inside the window although it was 07:30 under winter time.
    assert due(ask(ny, "2026-03-09T08:30:00", f.alice)) == utc("2026-03-09T12:30")
    assert ask(ny, "2026-03-09T12:15:00Z", f.alice).status_code == 200  # 08:15 EDT
    refused(ask(ny, "2026-03-09T11:45:00Z", f.alice), "at", "07:45")
    # Neither personal nor any.
    refused(ask(ny, "2026-03-03T10:00:00", f.alice, kind="sometimes"), "kind")
    # Nothing refused was kept: the callbacks are the last accepted ones.
    assert sorted(
        (c["record_id"], instant(c["due_at"])) for c in report(api, f.campaign_id)
    ) == sorted(
        [(ny["record_id"], utc("2026-03-09T12:15")), (az["record_id"], utc("2026-03-03T02:30"))]
    )


def test_a_personal_callback_follows_the_owner_after_a_recycle(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    """A personal callback follows its owner: the owner value changes from alice to bob and
    the campaign is recycled; alice's personal callback on the record is now for its owner,
    bob."""
    alice, bob = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(["alice", "bob"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice, bob]), calling_window=WINDOW)
    start(api, campaign_id)
    mine = take(app_client, alice, campaign_id)
    scheduled(app_client, alice, campaign_id, mine["record_id"], at="2026-03-02T10:00:00")
    done(app_client, alice, campaign_id, mine["record_id"], code="callback")
    edited = api.patch(
        f"{API}/contact-lists/{list_id}/records/{mine['record_id']}",
        json={"data": {"agent": "bob"}},
    )
    assert edited.status_code == 200, edited.text
    assert api.post(f"{API}/campaigns/{campaign_id}/recycle").status_code == 200
    clock.set(utc("2026-03-02T17:00"))
    seen = set()
    while (delivery := get_record(app_client, bob, campaign_id)) is not None:
        seen.add(delivery["record_id"])
        done(app_client, bob, campaign_id, delivery["record_id"], code="sale")
    assert mine["record_id"] in seen


def test_a_due_callback_comes_first_in_a_lead_ownership_campaign(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    _, campaign_id = lead_floor(api, app_client, [alice, bob], leads=4)
    lead = take(app_client, bob, campaign_id)
    scheduled(app_client, bob, campaign_id, lead["record_id"], at="2026-03-02T10:00:00", kind="any")
    done(app_client, bob, campaign_id, lead["record_id"], code="callback")
    clock.set(utc("2026-03-02T17:00"))
    assert api.post(f"{API}/campaigns/{campaign_id}/hopper/load").status_code == 200
    assert take(app_client, alice, campaign_id)["record_id"] == lead["record_id"]


def test_declining_a_record_as_do_not_call_cancels_its_callback(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    f = floor(api, make_user, [PHOENIX] * 2)
    held = take(app_client, f.alice, f.campaign_id)
    scheduled(app_client, f.alice, f.campaign_id, held["record_id"], at="2026-03-02T10:00:00")
    declined = app_client.post(
        _record_url(f.campaign_id, held["record_id"], "decline"),
        json={"action": "do_not_call"},
        headers=f.alice.headers,
    )
    assert declined.status_code == 204, declined.text
    assert report(api, f.campaign_id) == []
