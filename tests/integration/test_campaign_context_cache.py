"""A process keeps each campaign's context (settings, calling window, wrap-up codes, its
list's schema and ownership settings) and checks it against the campaign's version on
every request: a change made through any process is seen by every other at its next
request, and a request that finds its context current reads the version only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text, update

from callhopper.domain.dispensing import CampaignContext
from callhopper.store.db import Database
from callhopper.store.models import Campaign, User
from callhopper.store.uow import SqlUnitOfWork
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows
from tests.support import MakeUser


@pytest.fixture
def other(db: Database) -> Iterator[Database]:
    """The same database as a second ``serve`` process sees it: its own pool and cache."""
    second = Database(db.url)
    yield second
    second.dispose()


def context_of(db: Database, campaign_id: int, agent_id: int | None) -> CampaignContext:
    with SqlUnitOfWork(db).read() as tx:
        ctx = tx.claims.context(campaign_id, agent_id)
    assert ctx is not None
    return ctx


def version_of(db: Database, campaign_id: int) -> int:
    with db.read() as session:
        return int(session.scalar(select(Campaign.version).where(Campaign.id == campaign_id)))


def statements_of(db: Database, campaign_id: int, agent_id: int | None) -> list[str]:
    sent: list[str] = []

    def seen(*args: object) -> None:
        if not str(args[2]).startswith("BEGIN"):
            sent.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        context_of(db, campaign_id, agent_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return sent


def setup(api: TestClient, make_user: MakeUser, db: Database) -> tuple[int, int, int]:
    """(list, campaign, alice's id)."""
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, owned_rows(["alice"] * 2))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice]))
    with db.read() as session:
        alice_id = session.scalar(select(User.id).where(User.user_id == "alice"))
    assert alice_id is not None
    return list_id, campaign_id, alice_id


def test_every_change_reaches_a_second_process(
    api: TestClient, make_user: MakeUser, db: Database, other: Database
) -> None:
    list_id, campaign_id, alice_id = setup(api, make_user, db)
    first = context_of(other, campaign_id, alice_id)
    assert first.settings.allow_skip and first.member
    url = f"/api/v1/campaigns/{campaign_id}"

    # The campaign's own settings and calling window.
    assert api.patch(url, json={"settings": {"allow_skip": False}}).status_code == 200
    assert not context_of(other, campaign_id, alice_id).settings.allow_skip
    assert api.patch(url, json={"calling_window": {"end": "20:00"}}).status_code == 200
    assert context_of(other, campaign_id, alice_id).window.end == "20:00"

    # The codes of its wrap-up set, changed without touching the campaign's row.
    set_id = api.get(url).json()["wrapup_set_id"]
    codes = [{"code": "sale", "label": "Sale", "final": True}]
    edited = api.patch(f"/api/v1/wrapup-code-sets/{set_id}", json={"codes": codes})
    assert edited.status_code == 200, edited.text
    assert list(context_of(other, campaign_id, alice_id).codes) == ["sale"]

    # Its list's row (schema, ownership settings), by a statement of no store at all.
    before = version_of(db, campaign_id)
    with db.write() as session:
        session.execute(
            text("UPDATE contact_lists SET description = 'x' WHERE id = :id"), {"id": list_id}
        )
    assert version_of(db, campaign_id) == before + 1


def test_a_current_context_costs_one_index_lookup(
    api: TestClient, make_user: MakeUser, db: Database
) -> None:
    _, campaign_id, alice_id = setup(api, make_user, db)
    assert len(statements_of(db, campaign_id, alice_id)) == 1  # read in full, kept
    (check,) = statements_of(db, campaign_id, alice_id)
    assert check.startswith("SELECT campaigns.version")
    assert "settings" not in check  # no document, no wrap-up code
    # What is not part of the context is read every time: membership, here.
    assert not context_of(db, campaign_id, None).member
    assert context_of(db, campaign_id, alice_id).member


def test_the_version_moves_with_every_write_of_the_campaign_row(
    api: TestClient, make_user: MakeUser, db: Database
) -> None:
    _, campaign_id, _ = setup(api, make_user, db)
    before = version_of(db, campaign_id)
    with db.write() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(pass_no=3))
    assert version_of(db, campaign_id) == before + 1
    # One that sets the version itself is not bumped twice.
    with db.write() as session:
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(version=before + 10)
        )
    assert version_of(db, campaign_id) == before + 10
    assert context_of(db, campaign_id, None).pass_no == 3
