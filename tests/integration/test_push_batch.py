"""The pusher's batch claim: when many agents of a campaign whose records have no owner
wait at once (a shift starting), one statement leases a record to each, with every rule of
the one-agent claim: the longest wait gets the first record, a personal callback goes to
its agent, a record another campaign owns or has out is left alone, and no agent gets two
records nor a record two agents, even with two pushers (two processes) at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callhopper.clock import FrozenClock
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.models import Assignment, CampaignRecord, Record
from tests.campaign_helpers import done, get_record, make_campaign, make_queue, phone, start
from tests.integration.test_callbacks import scheduled
from tests.integration.test_campaign_ownership import shared_list
from tests.integration.test_dispensing_fixes import attach_dnc, history
from tests.integration.test_push_modes import holders, people, push_campaign, pusher, receiving
from tests.integration.test_statement_counts import counting
from tests.support import MakeUser

SECOND = timedelta(seconds=1)


def test_one_round_serves_the_longest_waits_first_in_campaign_order(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    team = people(make_user, "a", "b", "c", "d", "e", "f")
    campaign_id = push_campaign(api, team, "direct_push_preview", records=4)
    for who in reversed(team):  # f waits longest, a least
        receiving(app_client, who, campaign_id, True)
        clock.advance(SECOND)
    with counting(db) as counter:
        assert pusher(app_client).run_once() == 4
    # One claim statement for them all (and no claim of one agent).
    claims = [sql for sql in counter.statements if "status = 'leased', lease_agent_id" in sql]
    assert len(claims) == 1 and "WITH agents AS" in claims[0]
    assert holders(db, campaign_id) == {"A00000": "f", "A00001": "e", "A00002": "d", "A00003": "c"}
    with db.read() as session:
        open_history = session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.campaign_id == campaign_id, Assignment.released_at.is_(None))
        )
        out = session.scalars(
            select(Record.out_campaign_id).where(Record.out_campaign_id.is_not(None))
        ).all()
    assert open_history == 4 and out == [campaign_id] * 4
    assert pusher(app_client).run_once() == 0  # nothing left for b and a


def test_a_personal_callback_goes_to_its_agent_in_a_batch(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "direct_push_preview", records=3)
    receiving(app_client, alice, campaign_id, True)
    assert pusher(app_client).run_once() == 1
    ((account, _),) = holders(db, campaign_id).items()
    with db.read() as session:
        record_id = session.scalar(
            select(CampaignRecord.record_id).where(
                CampaignRecord.campaign_id == campaign_id, CampaignRecord.status == "leased"
            )
        )
    assert record_id is not None
    scheduled(app_client, alice, campaign_id, record_id, at="2026-03-02T10:00:00")
    done(app_client, alice, campaign_id, record_id, code="callback", stop=True)
    clock.set(clock.now() + timedelta(hours=2, minutes=1))  # 10:01 in Phoenix: it is due
    receiving(app_client, bob, campaign_id, True)  # bob waits longer than alice
    clock.advance(SECOND)
    receiving(app_client, alice, campaign_id, True)
    assert pusher(app_client).run_once() == 2
    pushed = holders(db, campaign_id)
    assert pushed[account] == "alice" and sorted(pushed.values()) == ["alice", "bob"]


def test_a_record_another_campaign_owns_is_not_pushed(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    list_id, campaign_a, _, ann, _ = shared_list(api, make_user, records=3)
    taken = get_record(app_client, ann, campaign_a)  # A00000, out with campaign A
    assert taken is not None
    done(app_client, ann, campaign_a, taken["record_id"], code="interested")  # A owns it
    held = get_record(app_client, ann, campaign_a)  # A00001: out with campaign A now
    assert held is not None
    team = people(make_user, "p1", "p2", "p3")
    pushed_campaign = make_campaign(
        api,
        list_id,
        make_queue(api, team, name="Push team"),
        name="Pushed",
        mode="direct_push_preview",
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    start(api, pushed_campaign)
    for who in team:
        receiving(app_client, who, pushed_campaign, True)
    assert pusher(app_client).run_once() == 1
    assert list(holders(db, pushed_campaign)) == ["A00002"]


def test_two_pushers_at_once_never_give_two_records_or_one_record_twice(
    api: TestClient,
    app_client: TestClient,
    make_user: MakeUser,
    settings: Settings,
    clock: FrozenClock,
    db: Database,
) -> None:
    team = people(make_user, *(f"agent{n}" for n in range(12)))
    campaign_id = push_campaign(api, team, "direct_push_preview", records=8)
    for who in team:
        receiving(app_client, who, campaign_id, True)
    # Two processes' pushers: each its own database engine and services.
    processes = [Database(settings.database_url) for _ in range(2)]
    pushers = [build(settings, other, clock).pusher for other in processes]
    start_together = threading.Barrier(len(pushers))
    counts: list[int] = []
    errors: list[BaseException] = []

    def push(index: int) -> None:
        try:
            start_together.wait(10)
            counts.append(pushers[index].run_once())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(len(pushers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for other in processes:
        other.dispose()
    assert not errors, errors
    pushed = holders(db, campaign_id)
    assert sum(counts) == len(pushed) == 8  # every record once, to eight different agents
    assert len(set(pushed.values())) == 8


def test_a_batch_never_pushes_a_record_whose_every_number_is_on_a_dnc_list(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    team = people(make_user, "a", "b", "c")
    campaign_id = push_campaign(api, team, "direct_push_preview", records=4)
    attach_dnc(api, campaign_id, [phone(0), phone(2)])  # A00000's and A00002's only numbers
    for who in team:
        receiving(app_client, who, campaign_id, True)
        clock.advance(SECOND)
    assert pusher(app_client).run_once() >= 1
    # The listed accounts were closed, never pushed: the agents got the two others.
    assert sorted(holders(db, campaign_id)) == ["A00001", "A00003"]
    closed = [h for h in history(api, campaign_id) if h["outcome"] == "dnc"]
    assert len(closed) == 2
