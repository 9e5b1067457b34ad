"""Two campaigns racing over one shared list with campaign ownership on (SPEC §6, §10.3).

Fifty agents per campaign claim, dial and wrap up at once with valid and non-valid codes.
Afterwards the database must show that no record was dialled by one campaign while another
owned it, that no record ever had two owners at once, and that no record was out with two
agents at once.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callhopper.clock import SystemClock
from callhopper.core.dispenser import Delivery, Dispenser
from callhopper.core.users import UserService
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.errors import Conflict
from callhopper.security import Argon2PasswordHasher
from callhopper.store.db import Database
from callhopper.store.models import Interaction, RecordOwnership
from callhopper.store.uow import SqlUnitOfWork
from tests.campaign_helpers import make_campaign, make_list, owned_rows, start

RECORDS = 10_000
AGENTS_PER_CAMPAIGN = 50
CYCLES_PER_AGENT = 12
#: Valid attempts take ownership; the others do not.
CODES = ["interested", "sale", "answering_machine", "busy", "no_answer"]

FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _agents(db: Database, prefix: str) -> list[Actor]:
    service = UserService(SqlUnitOfWork(db), SystemClock(), Argon2PasswordHasher())
    created = [
        service.create_user(
            SYSTEM,
            email=f"{prefix}{n}@example.com",
            display_name="",
            role="agent",
            password=None,
            user_id=f"{prefix}{n}",
        )
        for n in range(AGENTS_PER_CAMPAIGN)
    ]
    return [c.user.actor for c in created]


def _queue(api: TestClient, name: str, people: list[Actor]) -> int:
    queue = api.post("/api/v1/queues", json={"name": name}).json()
    response = api.post(
        f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [p.user_id for p in people]}
    )
    assert response.status_code == 200
    return int(queue["id"])


@pytest.mark.timeout(600)
def test_two_campaigns_never_dial_a_record_the_other_owns(db_url: str, api: TestClient) -> None:
    setup_db = Database(db_url)
    list_id = make_list(api, [])
    rows = owned_rows(["x"] * RECORDS)
    for at in range(0, RECORDS, 5000):
        report = api.post(
            f"/api/v1/contact-lists/{list_id}/records", json={"records": rows[at : at + 5000]}
        )
        assert report.json()["rows_accepted"] == len(rows[at : at + 5000])
    api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings", json={"enabled": True, "hours": 8}
    )
    crews = {name: _agents(setup_db, name.lower()) for name in ("A", "B")}
    campaigns = {
        name: make_campaign(
            api,
            list_id,
            _queue(api, f"Q{name}", people),
            name=name,
            agent_owned_column=None,
            sort=[{"column": "account"}],
        )
        for name, people in crews.items()
    }
    for campaign_id in campaigns.values():
        start(api, campaign_id)
    setup_db.dispose()

    db = Database(db_url, pool_size=20, pool_timeout_s=600)
    dispenser = Dispenser(db, SystemClock())
    barrier = threading.Barrier(2 * AGENTS_PER_CAMPAIGN)
    failures: list[BaseException] = []
    refusals: list[str] = []
    # Who holds which record, registered once Get Record has returned (committed) and
    # unregistered before the record is given back: a second holder is a violation.
    holders: dict[int, str] = {}
    guard = threading.Lock()
    doubles: list[tuple[int, str, str]] = []

    def hold(record_id: int, who: str) -> None:
        with guard:
            if record_id in holders:
                doubles.append((record_id, holders[record_id], who))
            holders[record_id] = who

    def give_back(record_id: int) -> None:
        with guard:
            holders.pop(record_id, None)

    def work(agent: Actor, campaign_id: int, seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(CYCLES_PER_AGENT):
                delivery = dispenser.get_record(agent, campaign_id)
                if not isinstance(delivery, Delivery):
                    return
                hold(delivery.record_id, agent.user_id)
                try:
                    dispenser.call(agent, campaign_id, delivery.record_id)
                except Conflict as exc:
                    refusals.append(exc.code)
                    give_back(delivery.record_id)
                    continue
                give_back(delivery.record_id)
                dispenser.done(agent, campaign_id, delivery.record_id, code=rng.choice(CODES))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=work, args=(agent, campaigns[name], n))
        for name, people in crews.items()
        for n, agent in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    # SPEC §10.1 across campaigns: no record out with two agents at once.
    assert not doubles, doubles[:5]

    with db.read() as session:
        ownerships = session.execute(
            select(
                RecordOwnership.record_id,
                RecordOwnership.campaign_id,
                RecordOwnership.owned_at,
                RecordOwnership.expires_at,
                RecordOwnership.released_at,
            )
        ).all()
        calls = session.execute(
            select(Interaction.record_id, Interaction.campaign_id, Interaction.at).where(
                Interaction.kind == "call"
            )
        ).all()
    db.dispose()

    # The race was real: both campaigns dialled, and ownership was taken by both.
    assert {c for _, c, _ in calls} == set(campaigns.values())
    assert {c for _, c, *_ in ownerships} == set(campaigns.values())

    owned: dict[int, list[tuple[int, datetime, datetime]]] = defaultdict(list)
    for record_id, campaign_id, owned_at, expires_at, released_at in ownerships:
        end = min(released_at or FAR, expires_at or FAR)
        owned[record_id].append((campaign_id, owned_at, end))
    # Every record has at most one owner at any time.
    for record_id, spans in owned.items():
        spans.sort(key=lambda s: s[1])
        for (_, _, end), (_, begin, _) in itertools.pairwise(spans):
            assert end <= begin, (record_id, spans)
    # SPEC §10.3: no record dialled by a campaign while another owned it.
    for record_id, campaign_id, at in calls:
        for owner, begin, end in owned.get(record_id, []):
            assert owner == campaign_id or not begin <= at < end, (record_id, campaign_id, at)
