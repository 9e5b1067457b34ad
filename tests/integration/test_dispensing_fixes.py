"""Dispensing defects found by hardening, each pinned by a test on both databases: records
that may not be dialled are never delivered, the assignment history never shows two
holders at once, and Get Record says what it waits for."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock, SystemClock
from callhopper.core.dispensing import Delivery, Dispenser
from callhopper.domain.actors import Actor
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.models import Assignment, Record, User
from callhopper.store.uow import SqlUnitOfWork
from callhopper.store.users import actor_of, get_user
from tests.campaign_helpers import (
    account,
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    phone,
    start,
)
from tests.conftest import T0
from tests.support import MakeUser, Person

API = "/api/v1"


def rows(count: int) -> list[dict[str, str]]:
    """Accounts without an owner, in account order, each with one number."""
    return [
        {"account": f"A{n:05d}", "phone": phone(n), "agent": "", "balance": "1"}
        for n in range(count)
    ]


def history(api: TestClient, campaign_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{API}/assignment-history", params={"campaign_id": campaign_id})
    assert response.status_code == 200, response.text
    return list(response.json())


def attach_dnc(api: TestClient, campaign_id: int, numbers: list[str]) -> None:
    created = api.post(f"{API}/dnc-lists", json={"name": f"National {campaign_id}"})
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    added = api.post(f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": numbers})
    assert added.status_code == 200, added.text
    attached = api.put(f"{API}/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [list_id]})
    assert attached.status_code == 200, attached.text


# --- a record whose every number is on a do-not-call list ---------------------------------------


def test_a_record_whose_every_number_is_on_a_dnc_list_is_closed_not_delivered(
    api: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, rows(3))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [alice]),
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    attach_dnc(api, campaign_id, [phone(0)])  # the first account's only number
    start(api, campaign_id)

    delivery = get_record(api, alice, campaign_id)

    assert delivery is not None and account(delivery) == "A00001"  # the next one, at once
    closed = [h for h in history(api, campaign_id) if h["outcome"] == "dnc"]
    assert len(closed) == 1, history(api, campaign_id)
    assert closed[0]["record_id"] != delivery["record_id"]


# --- what is left, another campaign holds -------------------------------------------------------


def test_get_record_says_which_campaign_holds_what_is_left_and_until_when(
    api: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, rows(1))
    queue_id = make_queue(api, [alice])
    mine = make_campaign(api, list_id, queue_id, agent_owned_column=None)
    other = make_campaign(api, list_id, queue_id, name="Renewals", agent_owned_column=None)
    start(api, mine)
    until = T0 + timedelta(days=3)
    with db.write() as session:
        session.execute(update(Record).values(owner_campaign_id=other, owner_until=until))

    response = api.post(f"{API}/agent/campaigns/{mine}/get-record", headers=alice.headers)

    answer = response.json()
    assert answer["delivery"] is None
    assert answer["reason"] == "held_by_another_campaign", answer
    assert answer["held_by"] == "Renewals"
    assert answer["held_until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
    assert "'Renewals'" in answer["message"]


# --- the assignment history never shows two holders at once ------------------------------------


def overlaps(db: Database, campaign_id: int) -> list[str]:
    """Pairs of deliveries of one record where the next began before the previous ended."""
    with db.read() as session:
        rows = session.execute(
            select(Assignment.record_id, Assignment.leased_at, Assignment.released_at)
            .where(Assignment.campaign_id == campaign_id)
            .order_by(Assignment.record_id, Assignment.leased_at, Assignment.id)
        ).all()
    found = []
    for before, after in itertools.pairwise(rows):
        if before.record_id != after.record_id:
            continue
        if before.released_at is None or after.leased_at < before.released_at:
            found.append(f"record {after.record_id}: {before} then {after}")
    return found


def test_two_processes_whose_clocks_differ_never_show_two_holders(
    settings: Settings, api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    """Process A's clock is 50 ms ahead of process B's: alice gives a record back through A,
    and bob gets it through B a moment later, by B's clock 50 ms before the release."""
    alice, bob = agents(make_user, "alice", "bob")
    campaign_id = make_campaign(
        api, make_list(api, rows(1)), make_queue(api, [alice, bob]), agent_owned_column=None
    )
    start(api, campaign_id)
    ahead = FrozenClock(clock.now() + timedelta(milliseconds=50))
    with TestClient(create_app(settings, db, ahead)) as process_a:
        delivery = get_record(process_a, alice, campaign_id)
        assert delivery is not None
        declined = process_a.post(
            f"{API}/agent/campaigns/{campaign_id}/records/{delivery['record_id']}/decline",
            json={"action": "call_later"},
            headers=alice.headers,
        )
        assert declined.status_code == 204, declined.text
    again = get_record(api, bob, campaign_id)  # process B: the test's own app and clock

    assert again is not None and again["record_id"] == delivery["record_id"]
    assert overlaps(db, campaign_id) == []


def test_concurrent_agents_never_show_two_holders_in_the_history(
    db_url: str, api: TestClient, make_user: MakeUser, db: Database
) -> None:
    """Six agents, each with its own connection pool and the real clock, take and give back
    the three records of a campaign as fast as they can (Get Record, then Skip, Decline or
    Logout); every delivery of a record in the history starts after the previous ended."""
    people = agents(make_user, *(f"agent{n}" for n in range(6)))
    campaign_id = make_campaign(
        api,
        make_list(api, rows(3)),
        make_queue(api, people),
        agent_owned_column=None,
        settings={"reinsert_skipped": True},
    )
    start(api, campaign_id)
    with db.read() as session:
        actors = [actor_of(session, get_user(session, p.user_id)) for p in people]
    barrier = threading.Barrier(len(actors))
    errors: list[BaseException] = []

    def work(agent: Actor, turn: int) -> None:
        own = Database(db_url, pool_size=1)
        dispenser = Dispenser(SqlUnitOfWork(own), SystemClock())
        try:
            barrier.wait(30)
            for n in range(15):
                got = dispenser.get_record(agent, campaign_id)
                if not isinstance(got, Delivery):
                    continue
                action = (n + turn) % 3
                if action == 0:
                    dispenser.skip(agent, campaign_id, got.record_id)
                elif action == 1:
                    dispenser.decline(agent, campaign_id, got.record_id, "call_later")
                else:
                    dispenser.logout(agent, campaign_id)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=work, args=(a, n)) for n, a in enumerate(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert overlaps(db, campaign_id) == []


# --- reinsert_skipped: a skipped record stays away for the campaign's delay ---------------------


def test_the_last_record_skipped_comes_back_only_after_the_delay(
    api: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    (alice,) = agents(make_user, "alice")
    campaign_id = make_campaign(
        api,
        make_list(api, rows(2)),
        make_queue(api, [alice]),
        agent_owned_column=None,
        sort=[{"column": "account"}],
        settings={"reinsert_skipped": True, "skip_reinsert_delay_s": 120},
    )
    start(api, campaign_id)
    first = get_record(api, alice, campaign_id)
    assert first is not None and account(first) == "A00000"
    skip(api, alice, campaign_id, first["record_id"])
    second = get_record(api, alice, campaign_id)  # the rest of the order first
    assert second is not None and account(second) == "A00001"
    skip(api, alice, campaign_id, second["record_id"])

    clock.advance(timedelta(seconds=119))
    away = api.post(f"{API}/agent/campaigns/{campaign_id}/get-record", headers=alice.headers)
    assert away.json()["delivery"] is None
    assert away.json()["reason"] == "waiting_for_retry", away.json()
    assert away.json()["next_retry_at"].startswith((T0 + timedelta(seconds=120)).isoformat()[:19])

    clock.advance(timedelta(seconds=1))
    back = get_record(api, alice, campaign_id)
    assert back is not None and account(back) == "A00000"


def skip(client: TestClient, who: Person, campaign_id: int, record_id: int) -> None:
    response = client.post(
        f"{API}/agent/campaigns/{campaign_id}/records/{record_id}/skip", headers=who.headers
    )
    assert response.status_code == 204, response.text


# --- the first Get Record of a lead-ownership campaign ------------------------------------------


def lead_campaign(api: TestClient, people: list[Person], owner: str = "") -> int:
    """A running lead-ownership campaign of two leads (general ones unless ``owner`` owns
    them), its hopper never loaded."""
    created = api.post(
        f"{API}/contact-lists",
        json={
            "name": "Leads",
            "columns": ["lead", "phone", "owner"],
            "phone_columns": ["phone"],
            "lead_owner_column": "owner",
            "key_column": "lead",
            "default_timezone": "America/Phoenix",
        },
    )
    assert created.status_code == 201, created.text
    leads = [{"lead": f"L{n}", "phone": phone(n), "owner": owner} for n in range(2)]
    appended = api.post(
        f"{API}/contact-lists/{created.json()['id']}/records", json={"records": leads}
    )
    assert appended.status_code == 201, appended.text
    campaign_id = make_campaign(
        api,
        int(created.json()["id"]),
        make_queue(api, people),
        agent_owned_column=None,
        enforce_lead_ownership=True,
    )
    start(api, campaign_id)
    return campaign_id


def test_the_first_get_record_after_login_never_finds_a_falsely_empty_hopper(
    settings: Settings, api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    """No loader runs in the background here: only the first Get Record after a login can
    stage the agent's leads, by running the load no one else has run since."""
    alice, bob = agents(make_user, "alice", "bob")
    campaign_id = lead_campaign(api, [alice, bob])
    process = build(settings, db, clock)  # its jobs are never started
    with db.read() as session:
        as_alice, as_bob = (actor_of(session, get_user(session, p.user_id)) for p in (alice, bob))

    process.dispenser.login(as_alice, campaign_id)
    first = process.dispenser.get_record(as_alice, campaign_id)
    assert isinstance(first, Delivery), first

    clock.advance(timedelta(seconds=5))  # bob never logged in: this Get Record does it
    other = process.dispenser.get_record(as_bob, campaign_id)
    assert isinstance(other, Delivery), other
    process.close()


# --- a lead's new owner: its callback follows, and Keepalive re-checks -------------------------


def test_a_personal_callback_follows_the_lead_to_its_new_owner_and_keepalive_rechecks(
    api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    alice, bob = agents(make_user, "alice", "bob")
    campaign_id = lead_campaign(api, [alice, bob], owner="alice")
    list_id = api.get(f"{API}/campaigns/{campaign_id}").json()["list_id"]
    login(api, alice, campaign_id)
    first = get_record(api, alice, campaign_id)
    assert first is not None
    url = f"{API}/agent/campaigns/{campaign_id}/records"
    scheduled = api.post(
        f"{url}/{first['record_id']}/callback",
        json={"at": (T0 + timedelta(hours=1)).isoformat()},
        headers=alice.headers,
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["agent_user_id"] == "alice"
    done(api, alice, campaign_id, first["record_id"], "callback")
    second = get_record(api, alice, campaign_id)
    assert second is not None

    moved = api.put(
        f"{API}/contact-lists/{list_id}/records/{first['record_id']}/owner",
        json={"owner": "bob", "reason": "territory change"},
    )
    assert moved.status_code == 200, moved.text
    # A path that changes owners without ending deliveries (a staleness rule, say).
    with db.write() as session:
        bob_id = session.scalar(select(User.id).where(User.user_id == "bob"))
        session.execute(
            update(Record).where(Record.id == second["record_id"]).values(owner_id=bob_id)
        )

    kept = api.post(f"{url}/{second['record_id']}/keepalive", headers=alice.headers)
    assert kept.status_code == 409, kept.text
    assert kept.json()["error"]["code"] == "owned_by_another_agent"
    assert api.get(f"{url}/{second['record_id']}", headers=alice.headers).status_code == 404

    waiting = api.get(f"{API}/campaigns/{campaign_id}/callbacks").json()
    assert [c["agent_user_id"] for c in waiting] == ["bob"], waiting
    clock.advance(timedelta(hours=1))
    login(api, bob, campaign_id)
    back = get_record(api, bob, campaign_id)
    assert back is not None and back["record_id"] == first["record_id"]


def login(client: TestClient, who: Person, campaign_id: int) -> None:
    response = client.post(f"{API}/agent/campaigns/{campaign_id}/login", headers=who.headers)
    assert response.status_code == 204, response.text
