"""What an agent does with a delivered record, through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.errors import DeadlockDetected, QueryCanceled
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callhopper.clock import FrozenClock
from callhopper.domain.campaigns import DEFAULT_SKIP_REINSERT_DELAY_S
from callhopper.store import dispensing
from callhopper.store.db import Database
from callhopper.store.models import AgentSession, Interaction, User
from tests.campaign_helpers import (
    account,
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser, Person


def setup(
    api: TestClient, make_user: MakeUser, owners: list[str], **campaign: Any
) -> tuple[int, list[Person]]:
    people = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(owners))
    campaign_id = make_campaign(
        api, list_id, make_queue(api, people), sort=[{"column": "account"}], **campaign
    )
    start(api, campaign_id)
    return campaign_id, people


def act(
    client: TestClient,
    who: Person,
    campaign_id: int,
    record_id: int,
    action: str,
    body: dict[str, Any] | None = None,
) -> Any:
    return client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/{action}",
        json=body or {},
        headers=who.headers,
    )


def test_my_campaigns_lists_running_campaigns_of_my_queues(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"], description="Overdue accounts")
    outsider = make_user("agent")
    mine = app_client.get("/api/v1/agent/campaigns", headers=alice.headers).json()
    assert mine == [
        {
            "id": campaign_id,
            "name": "Collections",
            "description": "Overdue accounts",
            "status": "running",
            "mode": "preview",
            "delivery": "manual",
            "logged_in": False,
            "receiving": False,
            "record_id": None,
        },
    ]
    assert app_client.get("/api/v1/agent/campaigns", headers=outsider.headers).json() == []
    # An agent outside the queue cannot see the campaign at all.
    response = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=outsider.headers
    )
    assert response.status_code == 404


def test_get_record_is_idempotent_and_others_get_404(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, bob) = setup(api, make_user, ["alice", "alice", "bob"])
    first = get_record(app_client, alice, campaign_id)
    assert first is not None and account(first) == "A00000"
    assert first["phones"] == [
        {
            "index": 0,
            "column": "phone",
            "type": "other",
            "number": "+16022000000",
            "extension": None,
        }
    ]
    assert [f["name"] for f in first["fields"] if f["editable"]] == ["notes", "paid"]
    assert {c["code"] for c in first["wrapup_codes"]} >= {"sale", "no_answer"}
    again = get_record(app_client, alice, campaign_id)
    assert again is not None and again["record_id"] == first["record_id"]
    mine = app_client.get("/api/v1/agent/campaigns", headers=alice.headers).json()
    assert mine[0]["record_id"] == first["record_id"] and mine[0]["logged_in"]

    attempts = [
        ("done", {"code": "sale"}),
        ("wrapup", {"code": "sale"}),
        ("skip", {}),
        ("call", {}),
        ("keepalive", {}),
        ("decline", {"action": "call_later"}),
        ("decline", {"action": "do_not_call"}),
        ("callback", {"at": "2026-03-03T10:00:00", "kind": "personal"}),
        ("accept", {}),
        ("reject", {}),
    ]
    for action, body in attempts:
        response = act(app_client, bob, campaign_id, first["record_id"], action, body)
        assert response.status_code == 404, action
    assert (
        app_client.get(
            f"/api/v1/agent/campaigns/{campaign_id}/records/{first['record_id']}",
            headers=bob.headers,
        ).status_code
        == 404
    )


def test_the_owner_column_is_not_on_the_agents_record_form(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """No agent is shown an owner: the agent-owned column is neither in Get Record's
    fields, nor in the record read again, nor in the deliveries to resume."""
    campaign_id, (alice, _) = setup(api, make_user, ["alice"])
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    assert [f["name"] for f in first["fields"]] == ["account", "phone", "balance", "notes", "paid"]
    again = app_client.get(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{first['record_id']}",
        headers=alice.headers,
    ).json()
    resumed = app_client.get("/api/v1/agent/deliveries", headers=alice.headers).json()
    for delivery in (again, *resumed):
        assert "agent" not in {f["name"] for f in delivery["fields"]}


def test_done_applies_the_wrapup_and_edits(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice", "alice"])
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    record_id = delivery["record_id"]
    read_only = act(
        app_client,
        alice,
        campaign_id,
        record_id,
        "wrapup",
        {"code": "sale", "fields": {"balance": "0"}},
    )
    assert read_only.status_code == 422
    assert read_only.json()["error"]["message"] == "field 'balance' is read-only"
    bad_type = act(
        app_client,
        alice,
        campaign_id,
        record_id,
        "wrapup",
        {"code": "sale", "fields": {"paid": "perhaps"}},
    )
    assert bad_type.status_code == 422
    unknown_code = act(app_client, alice, campaign_id, record_id, "wrapup", {"code": "teleport"})
    assert "'teleport' is not a wrap-up code" in unknown_code.json()["error"]["message"]
    no_code = act(app_client, alice, campaign_id, record_id, "done", {})
    assert no_code.status_code == 422 and "wrap-up code" in no_code.json()["error"]["message"]

    chosen = act(
        app_client,
        alice,
        campaign_id,
        record_id,
        "wrapup",
        {"code": "sale", "note": "paid in full", "fields": {"paid": True, "notes": "ok"}},
    )
    assert chosen.status_code == 204
    pending = get_record(app_client, alice, campaign_id)
    assert pending is not None and pending["pending_wrapup"]["code"] == "sale"
    assert act(app_client, alice, campaign_id, record_id, "done", {}).status_code == 204

    record = api.get(f"/api/v1/contact-lists/1/records/{record_id}").json()
    assert record["data"]["paid"] == "true" and record["data"]["notes"] == "ok"
    edit = api.get("/api/v1/audit", params={"action": "record.edit"}).json()
    assert edit[0]["actor"] == "alice"
    assert edit[0]["after"] == {"notes": "ok", "paid": "true"}
    # The contact's history shows the wrap-up to whoever gets the record next.
    api.post(f"/api/v1/campaigns/{campaign_id}/recycle")
    history_owner = get_record(app_client, alice, campaign_id)
    assert history_owner is not None and history_owner["record_id"] != record_id


def test_final_and_retry_codes(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice", "alice"])
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    done(app_client, alice, campaign_id, first["record_id"], code="busy")  # retry in 10 min
    second = get_record(app_client, alice, campaign_id)
    assert second is not None and second["record_id"] != first["record_id"]
    done(app_client, alice, campaign_id, second["record_id"], code="sale")  # final
    waiting = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=alice.headers
    ).json()
    assert waiting["delivery"] is None and waiting["reason"] == "waiting_for_retry"
    clock.advance(timedelta(minutes=10))
    retry = get_record(app_client, alice, campaign_id)
    assert retry is not None and retry["record_id"] == first["record_id"]
    assert retry["attempts"] == 0  # busy does not count as an attempt
    done(app_client, alice, campaign_id, retry["record_id"], code="not_interested")
    exhausted = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=alice.headers
    ).json()
    assert exhausted["reason"] == "list_exhausted"


def test_skip_waits_for_the_next_pass_or_goes_to_the_back(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"] * 3)
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    assert act(app_client, alice, campaign_id, first["record_id"], "skip").status_code == 204
    seen = [account(d) for d in iter(lambda: _next(app_client, alice, campaign_id), None)]
    assert seen == ["A00001", "A00002"]  # the skipped record does not come back this pass

    reinsert, (carol, _) = _reinsert_campaign(api, make_user)
    got = get_record(app_client, carol, reinsert)
    assert got is not None
    act(app_client, carol, reinsert, got["record_id"], "skip")
    order = [account(d) for d in iter(lambda: _next(app_client, carol, reinsert), None)]
    assert order == ["A00101", "A00102"]  # back of the order, and away for a while
    clock.advance(timedelta(seconds=DEFAULT_SKIP_REINSERT_DELAY_S))
    order = [account(d) for d in iter(lambda: _next(app_client, carol, reinsert), None)]
    assert order == ["A00100"]


def _reinsert_campaign(api: TestClient, make_user: MakeUser) -> tuple[int, list[Person]]:
    people = agents(make_user, "carol", "dan")
    list_id = make_list(api, owned_rows(["carol"] * 3, start=100), name="Reinsert")
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, people, name="R"),
        name="Reinsert",
        sort=[{"column": "account"}],
        settings={"reinsert_skipped": True},
    )
    start(api, campaign_id)
    return campaign_id, people


def _next(client: TestClient, who: Person, campaign_id: int) -> dict[str, Any] | None:
    delivery = get_record(client, who, campaign_id)
    if delivery is not None:
        done(client, who, campaign_id, delivery["record_id"])
    return delivery


def test_the_agent_picks_a_caller_id_else_the_default_is_shown(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    offered = {"caller_ids": ["+1 480 555 0100", "+14805550101"]}
    refused = api.post(
        "/api/v1/campaigns",
        json={"name": "x", "list_id": 1, "queue_id": 1, "settings": {"caller_ids": ["555"]}},
    )
    assert refused.status_code == 422 and "caller_ids" in refused.text
    settings = {**offered, "default_caller_id": "+14805550101"}
    campaign_id, (alice, bob) = setup(api, make_user, ["alice"] * 2, settings=settings)
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    assert delivery["caller_ids"] == ["+14805550100", "+14805550101"]
    assert delivery["default_caller_id"] == "+14805550101"
    record_id = delivery["record_id"]
    wrong = act(app_client, alice, campaign_id, record_id, "call", {"caller_id": "+14805550199"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"]["field"] == "caller_id"
    picked = act(app_client, alice, campaign_id, record_id, "call", {"caller_id": "+14805550100"})
    assert picked.json()["caller_id"] == "+14805550100"
    default = act(app_client, alice, campaign_id, record_id, "call")
    assert default.json()["caller_id"] == "+14805550101"
    with db.read() as session:
        shown = session.scalars(
            select(Interaction.caller_id)
            .where(Interaction.record_id == record_id, Interaction.kind == "call")
            .order_by(Interaction.id)
        ).all()
    assert shown == ["+14805550100", "+14805550101"]
    # A campaign without caller IDs shows none (the telephony's own).
    other = make_campaign(
        api,
        make_list(api, owned_rows(["bob"], start=10), name="Plain"),
        make_queue(api, [bob], name="Plain"),
        name="Plain",
    )
    start(api, other)
    plain = get_record(app_client, bob, other)
    assert plain is not None and (plain["caller_ids"], plain["default_caller_id"]) == ([], None)
    call = act(app_client, bob, other, plain["record_id"], "call")
    assert call.json()["caller_id"] is None


def test_skip_can_be_forbidden(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, bob) = setup(api, make_user, ["alice"], settings={"allow_skip": False})
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None and delivery["allow_skip"] is False
    response = act(app_client, alice, campaign_id, delivery["record_id"], "skip")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "skip_not_allowed"
    # Bob holds nothing: not being allowed to skip does not tell him the record exists.
    assert act(app_client, bob, campaign_id, delivery["record_id"], "skip").status_code == 404
    # After a recycle the record handled in the first pass may be skipped.
    done(app_client, alice, campaign_id, delivery["record_id"], code="busy")
    assert api.post(f"/api/v1/campaigns/{campaign_id}/recycle").status_code == 200
    again = get_record(app_client, alice, campaign_id)
    assert again is not None and again["already_handled"]["code"] == "busy"
    assert again["allow_skip"] is True
    assert act(app_client, alice, campaign_id, again["record_id"], "skip").status_code == 204
    assert get_record(app_client, alice, campaign_id) is None  # it waits for the next pass


def test_decline_call_later_and_do_not_call(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"] * 3)
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    later = act(
        app_client, alice, campaign_id, first["record_id"], "decline", {"action": "call_later"}
    )
    assert later.status_code == 204
    second = get_record(app_client, alice, campaign_id)
    assert second is not None and account(second) == "A00001"
    act(app_client, alice, campaign_id, second["record_id"], "decline", {"action": "do_not_call"})
    rest = [account(d) for d in iter(lambda: _next(app_client, alice, campaign_id), None)]
    assert rest == ["A00002", "A00000"]  # call-later came back at the end; DNC never
    bad = act(app_client, alice, campaign_id, 1, "decline", {"action": "maybe"})
    assert bad.status_code in (404, 422)
    progress = api.get(f"/api/v1/campaigns/{campaign_id}/progress").json()
    assert progress["campaign"]["final"] == 1


def test_after_a_call_skip_and_call_later_are_refused_until_the_wrap_up(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """A dialled record is wrapped up (Done with a code: attempt, retry, ownership), not
    skipped or declined for later; Decline do_not_call stays allowed and lists the number."""
    campaign_id, (alice, _) = setup(api, make_user, ["alice"] * 2)
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    record_id = first["record_id"]
    assert act(app_client, alice, campaign_id, record_id, "call").status_code == 200
    for action, body in (("skip", None), ("decline", {"action": "call_later"})):
        refused = act(app_client, alice, campaign_id, record_id, action, body)
        assert refused.status_code == 409, (action, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "wrapup_required"
        assert "wrap-up code and Done" in error["message"]
    still = get_record(app_client, alice, campaign_id)
    assert still is not None and still["record_id"] == record_id
    done(app_client, alice, campaign_id, record_id, code="no_answer")
    with db.read() as session:
        kinds = session.scalars(
            select(Interaction.kind)
            .where(Interaction.record_id == record_id)
            .order_by(Interaction.id)
        ).all()
    assert list(kinds) == ["call", "wrapup"]

    second = get_record(app_client, alice, campaign_id)
    assert second is not None
    assert act(app_client, alice, campaign_id, second["record_id"], "call").status_code == 200
    dnc = act(
        app_client, alice, campaign_id, second["record_id"], "decline", {"action": "do_not_call"}
    )
    assert dnc.status_code == 204, dnc.text
    progress = api.get(f"/api/v1/campaigns/{campaign_id}/progress").json()
    assert progress["campaign"]["final"] == 1


def test_a_call_in_a_lapsed_lease_does_not_stop_the_next_agent_skipping(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, bob) = setup(
        api,
        make_user,
        ["alice", "alice"],
        agent_owned_column=None,
        settings={"lease_timeout_s": 60},
    )
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    assert act(app_client, alice, campaign_id, first["record_id"], "call").status_code == 200
    clock.advance(timedelta(seconds=61))
    taken = get_record(app_client, bob, campaign_id)
    assert taken is not None and taken["record_id"] == first["record_id"]
    assert act(app_client, bob, campaign_id, first["record_id"], "skip").status_code == 204


def test_done_and_stop_and_get_record_again(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"] * 2)
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    done(app_client, alice, campaign_id, delivery["record_id"], stop=True)
    mine = app_client.get("/api/v1/agent/campaigns", headers=alice.headers).json()
    assert mine[0]["receiving"] is False
    assert get_record(app_client, alice, campaign_id) is not None
    assert app_client.get("/api/v1/agent/campaigns", headers=alice.headers).json()[0]["receiving"]


def test_call_picks_a_number_and_respects_the_window(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    # Phoenix is UTC-7 all year; the test clock starts at 08:00 there.
    campaign_id, (alice, _) = setup(
        api,
        make_user,
        ["alice"],
        calling_window={"start": "08:00", "end": "09:00"},
        settings={"allow_manual_dial": True},
    )
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None and delivery["calling_window_open"]
    record_id = delivery["record_id"]
    call = act(app_client, alice, campaign_id, record_id, "call", {"phone_index": 0})
    assert call.json() == {
        "record_id": record_id,
        "number": "+16022000000",
        "phone_index": 0,
        "case": "clear",
        "message": "",
        "skipped": [],
        "closed": None,
        "caller_id": None,
        "extension": None,
    }
    manual = act(app_client, alice, campaign_id, record_id, "call", {"number": "(602) 999-1234"})
    assert manual.json()["number"] == "+16029991234"
    bad_index = act(app_client, alice, campaign_id, record_id, "call", {"phone_index": 3})
    assert bad_index.status_code == 422
    # Leased inside the window, dialled outside it: refused.
    clock.advance(timedelta(hours=1))
    late = app_client.post(  # no body at all: the first number
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/call", headers=alice.headers
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "outside_calling_window"
    history = get_record(app_client, alice, campaign_id)
    assert history is not None
    assert [(h["kind"], h["number"]) for h in history["history"]] == [
        ("call", "+16029991234"),
        ("call", "+16022000000"),
    ]
    called_at = clock.now() - timedelta(hours=1)
    assert {(datetime.fromisoformat(h["at"]), h["agent_user_id"]) for h in history["history"]} == {
        (called_at, alice.user_id)
    }


def test_manual_dial_is_off_by_default(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"])
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    response = act(
        app_client, alice, campaign_id, delivery["record_id"], "call", {"number": "6029991234"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "manual_dial_not_allowed"


def test_records_outside_the_window_are_not_delivered(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, _) = setup(
        api, make_user, ["alice"], calling_window={"start": "09:00", "end": "17:00"}
    )
    closed = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=alice.headers
    ).json()
    assert closed["delivery"] is None and closed["reason"] == "outside_calling_window"
    clock.advance(timedelta(hours=1))  # 09:00 in Phoenix
    assert get_record(app_client, alice, campaign_id) is not None


def test_an_expired_lease_is_reclaimed_by_the_next_claim(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, bob) = setup(
        api,
        make_user,
        ["alice", "alice"],
        agent_owned_column=None,
        settings={"lease_timeout_s": 60},
    )
    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    clock.advance(timedelta(seconds=61))
    taken = get_record(app_client, bob, campaign_id)
    assert taken is not None and taken["record_id"] == first["record_id"]
    # Alice's lease is gone: acting on the record is 404; her next claim gets another record.
    assert (
        act(
            app_client, alice, campaign_id, first["record_id"], "done", {"code": "sale"}
        ).status_code
        == 404
    )
    other = get_record(app_client, alice, campaign_id)
    assert other is not None and other["record_id"] != first["record_id"]
    history = api.get("/api/v1/assignment-history", params={"record_id": first["record_id"]}).json()
    assert [(h["agent_user_id"], h["outcome"]) for h in history] == [
        ("bob", None),
        ("alice", "expired"),
    ]


def test_keepalive_extends_the_lease(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    campaign_id, (alice, bob) = setup(
        api, make_user, ["x"], agent_owned_column=None, settings={"lease_timeout_s": 60}
    )
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    clock.advance(timedelta(seconds=50))
    kept = act(app_client, alice, campaign_id, held["record_id"], "keepalive")
    assert kept.status_code == 200
    clock.advance(timedelta(seconds=50))
    assert get_record(app_client, bob, campaign_id) is None


def test_logout_gives_the_record_back_and_keeps_its_owner(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, bob) = setup(api, make_user, ["alice", "bob"])
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    assert (
        app_client.post(
            f"/api/v1/agent/campaigns/{campaign_id}/logout", headers=alice.headers
        ).status_code
        == 204
    )
    assert get_record(app_client, bob, campaign_id) is not None  # bob's own record, not alice's
    again = get_record(app_client, alice, campaign_id)
    assert again is not None and again["record_id"] == held["record_id"]


def test_deliveries_resume_after_a_reconnect(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    campaign_id, (alice, _) = setup(api, make_user, ["alice"])
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    resumed = app_client.get("/api/v1/agent/deliveries", headers=alice.headers).json()
    assert [d["record_id"] for d in resumed] == [held["record_id"]]


def test_a_deactivated_agent_leaves_every_campaign_and_their_record_goes_on(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    campaign_id, (alice, bob) = setup(api, make_user, ["", ""], agent_owned_column=None)
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    assert api.post(f"/api/v1/users/{alice.user_id}/deactivate").status_code == 200
    # Her record is the next claim's at once, not after the lease timeout.
    taken = get_record(app_client, bob, campaign_id)
    assert taken is not None and taken["record_id"] == held["record_id"]
    with db.read() as session:
        sessions = session.scalars(
            select(AgentSession)
            .join(User, User.id == AgentSession.user_id)
            .where(User.user_id == alice.user_id)
        )
        assert list(sessions) == []


def test_a_done_chosen_as_a_deadlock_victim_runs_again(
    api: TestClient,
    app_client: TestClient,
    make_user: MakeUser,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL rolls back one transaction of a deadlock; Done runs once more (its first
    run left nothing behind). Any other database error is not retried."""
    campaign_id, (alice, _) = setup(api, make_user, ["alice", "alice"])
    real_release = dispensing.release
    runs: list[BaseException] = []

    def release(*args: Any, **kwargs: Any) -> bool:
        ended = real_release(*args, **kwargs)  # changed in the transaction, then rolled back
        if runs:
            error = runs.pop()
            raise OperationalError("UPDATE campaign_records …", {}, error)
        return ended

    monkeypatch.setattr(dispensing, "release", release)

    def interactions(record_id: int) -> int:
        with db.read() as session:
            found = session.scalar(select(func.count()).where(Interaction.record_id == record_id))
        return int(found or 0)

    first = get_record(app_client, alice, campaign_id)
    assert first is not None
    runs.append(DeadlockDetected("deadlock detected"))
    response = act(app_client, alice, campaign_id, first["record_id"], "done", {"code": "sale"})
    assert response.status_code == 204, response.text
    assert not runs  # the victim ran, then the Done ran again
    assert interactions(first["record_id"]) == 1

    second = get_record(app_client, alice, campaign_id)
    assert second is not None
    runs.append(QueryCanceled("canceling statement due to statement timeout"))
    with pytest.raises(OperationalError, match="statement timeout"):
        act(app_client, alice, campaign_id, second["record_id"], "done", {"code": "sale"})
    assert interactions(second["record_id"]) == 0
    assert get_record(app_client, alice, campaign_id) == second  # still leased to alice


def test_a_request_without_credentials_is_refused_before_its_body_is_read(
    app_client: TestClient,
) -> None:
    response = app_client.post(
        "/api/v1/agent/campaigns/1/records/1/done", json={"code": "sale", "stop": "perhaps"}
    )
    assert response.status_code == 401, response.text
    assert "authentication required" in response.json()["error"]["message"]
