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
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.models import Assignment, Record
from callhopper.store.uow import SqlUnitOfWork
from callhopper.store.users import actor_of, get_user
from tests.campaign_helpers import (
    account,
    agents,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    phone,
    start,
)
from tests.conftest import T0
from tests.support import MakeUser

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
