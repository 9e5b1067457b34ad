"""How many SQL statements one Get Record → Call → Done cycle costs, over the API, in each
kind of campaign.

Each statement is a round trip to the database while the agent waits, and on a busy floor
the round trips are where a server spends its time. The numbers pinned here are the
budget: a change that adds a statement to the hot path fails this test and must move the
number on purpose (and the table in the README's performance section with it). Each
count includes the request's authentication; SQLite's include its ``BEGIN``s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from callhopper.store.db import Database
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
from tests.integration.test_campaign_ownership import shared_list
from tests.integration.test_hopper import lead_campaign, lead_list, leads, load, login
from tests.integration.test_push_modes import people, push_campaign, pusher, set_ready
from tests.support import MakeUser, Person

#: The pinned counts: kind of campaign → dialect → statements of each step of one cycle.
BUDGET: dict[str, dict[str, dict[str, int]]] = {
    "agent_owned_preview": {
        "postgresql": {"get_record": 6, "call": 6, "done": 4},
        "sqlite": {"get_record": 11, "call": 7, "done": 8},
    },
    "campaign_ownership": {
        "postgresql": {"get_record": 6, "call": 6, "done": 5},
        "sqlite": {"get_record": 11, "call": 7, "done": 13},
    },
    "lead_ownership_hopper": {
        "postgresql": {"get_record": 7, "call": 6, "done": 4},
        "sqlite": {"get_record": 13, "call": 7, "done": 8},
    },
    "push_preview": {
        "postgresql": {"push": 10, "accept": 5, "call": 6, "done": 8},
        "sqlite": {"push": 18, "accept": 6, "call": 7, "done": 15},
    },
}


class Counter:
    """Counts the statements the engine sends, step by step."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.steps: dict[str, int] = {}
        #: The statements of each step (their first words), for the failure message.
        self.sent: dict[str, list[str]] = {}

    def __call__(self, *args: Any) -> None:
        self.statements.append(args[2])

    def step(self, name: str, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        before = len(self.statements)
        result = action(*args, **kwargs)
        self.sent[name] = [" ".join(sql.split())[:120] for sql in self.statements[before:]]
        self.steps[name] = len(self.statements) - before
        return result


@contextmanager
def counting(db: Database) -> Iterator[Counter]:
    counter = Counter()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)


def call(client: TestClient, who: Person, campaign_id: int, record_id: int) -> None:
    response = client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/call",
        json={},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text


def accept(client: TestClient, who: Person, campaign_id: int, record_id: int) -> None:
    response = client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/records/{record_id}/accept",
        headers=who.headers,
    )
    assert response.status_code == 200, response.text


def pull_cycles(
    client: TestClient, who: Person, campaign_id: int, db: Database, code: str
) -> Counter:
    """One warm-up cycle (the first claim logs the agent in), then one counted cycle."""
    with counting(db) as counter:
        for _ in range(2):
            counter.steps.clear()
            got = counter.step("get_record", get_record, client, who, campaign_id)
            assert got is not None
            record_id = got["record_id"]
            counter.step("call", call, client, who, campaign_id, record_id)
            counter.step("done", done, client, who, campaign_id, record_id, code=code)
    return counter


def within_budget(kind: str, dialect: str, counter: Counter) -> None:
    budget = BUDGET[kind][dialect]
    assert counter.steps.keys() == budget.keys()
    over = {step: (n, budget[step]) for step, n in counter.steps.items() if n > budget[step]}
    sent = {step: counter.sent[step] for step in over}
    assert not over, f"{kind} on {dialect}: (counted, budget) per step {over}; sent {sent}"


def test_agent_owned_preview(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, owned_rows(["alice"] * 3))
    campaign_id = make_campaign(
        api, list_id, make_queue(api, [alice]), sort=[{"column": "balance"}]
    )
    start(api, campaign_id)
    counted = pull_cycles(app_client, alice, campaign_id, db, "no_answer")
    within_budget("agent_owned_preview", db.dialect, counted)


def test_shared_list_with_campaign_ownership(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    _, campaign_a, _, ann, _ = shared_list(api, make_user, records=3)
    # A valid attempt: the Done takes campaign ownership of the record.
    counted = pull_cycles(app_client, ann, campaign_a, db, "interested")
    within_budget("campaign_ownership", db.dialect, counted)


def test_enforced_lead_ownership_with_the_hopper(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = lead_list(api, leads("alice", "AZ", 3, 0) + leads(None, "AZ", 3, 100))
    campaign_id = lead_campaign(api, list_id, [alice], hopper_level=10)
    login(app_client, alice, campaign_id)
    load(api, campaign_id)
    counted = pull_cycles(app_client, alice, campaign_id, db, "no_answer")
    within_budget("lead_ownership_hopper", db.dialect, counted)


def test_push_preview(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """The pusher's round pushes the first record; each Done pushes the next one in its
    own transaction (the agent waits alone), so a steady cycle is Accept, Call, Done."""
    (alice,) = people(make_user, "alice")
    campaign_id = push_campaign(api, [alice], "push_preview", records=4)
    login(app_client, alice, campaign_id)
    set_ready(app_client, alice, True)
    with counting(db) as counter:
        assert counter.step("push", pusher(app_client).run_once) == 1
        pushed = counter.steps
        for _ in range(2):
            counter.steps = {"push": pushed["push"]}
            (held,) = app_client.get("/api/v1/agent/deliveries", headers=alice.headers).json()
            record_id = held["record_id"]
            counter.step("accept", accept, app_client, alice, campaign_id, record_id)
            counter.step("call", call, app_client, alice, campaign_id, record_id)
            counter.step("done", done, app_client, alice, campaign_id, record_id)
    within_budget("push_preview", db.dialect, counter)
