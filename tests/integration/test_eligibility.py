""" "Why not?" for one record, against the real claims: each reason on its own, and a
randomised check that the explanation and Get Record never disagree."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from callhopper.clock import FrozenClock
from callhopper.store.db import Database
from callhopper.store.models import CampaignRecord, Record
from tests.campaign_helpers import (
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
from tests.conftest import T0
from tests.integration.test_dispensing_fixes import attach_dnc, rows
from tests.support import MakeUser, Person

API = "/api/v1"


def why(client: TestClient, campaign_id: int, record_id: int) -> dict[str, Any]:
    response = client.get(f"{API}/campaigns/{campaign_id}/records/{record_id}/eligibility")
    assert response.status_code == 200, response.text
    return dict(response.json())


def reasons(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["reason"]: b for b in answer["blockers"]}


def login(client: TestClient, who: Person, campaign_id: int) -> None:
    response = client.post(f"{API}/agent/campaigns/{campaign_id}/login", headers=who.headers)
    assert response.status_code == 204, response.text


def record_ids(db: Database, campaign_id: int) -> list[int]:
    with db.read() as session:
        found = session.execute(
            CampaignRecord.__table__.select()
            .with_only_columns(CampaignRecord.record_id)
            .where(CampaignRecord.campaign_id == campaign_id)
            .order_by(CampaignRecord.rank)
        )
        return [int(r) for (r,) in found]


def pool_campaign(api: TestClient, alice: Person, count: int, **extra: Any) -> int:
    name = extra.pop("name", "Collections")
    return make_campaign(
        api,
        make_list(api, rows(count), name=f"{name} list"),
        make_queue(api, [alice], name=f"{name} team"),
        name=name,
        agent_owned_column=None,
        sort=[{"column": "account"}],
        **extra,
    )


def test_the_states_of_a_record_and_who_may_ask(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    campaign_id = pool_campaign(api, alice, 4)
    start(api, campaign_id)
    first, second, third, fourth = record_ids(db, campaign_id)
    assert list(reasons(why(api, campaign_id, first))) == ["no_agent_logged_in"]
    login(app_client, alice, campaign_id)
    answer = why(api, campaign_id, first)
    assert answer == {"campaign_id": campaign_id, "record_id": first, "deliverable": True,
                      "blockers": []}  # fmt: skip
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None and delivery["record_id"] == first

    leased = reasons(why(api, campaign_id, first))["leased"]
    assert leased["detail"] == {"agent": "alice"}
    assert leased["until"].startswith((T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))

    done(app_client, alice, campaign_id, first, "sale")
    assert reasons(why(api, campaign_id, first))["final"]["detail"] == {"code": "sale"}

    assert get_record(app_client, alice, campaign_id)["record_id"] == second  # type: ignore[index]
    done(app_client, alice, campaign_id, second, "busy")  # a retry in 10 minutes
    retry = reasons(why(api, campaign_id, second))["retry_scheduled"]
    assert retry["until"].startswith((T0 + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))

    assert get_record(app_client, alice, campaign_id)["record_id"] == third  # type: ignore[index]
    skipped = app_client.post(
        f"{API}/agent/campaigns/{campaign_id}/records/{third}/skip", headers=alice.headers
    )
    assert skipped.status_code == 204, skipped.text
    assert "handled_this_pass" in reasons(why(api, campaign_id, third))

    assert get_record(app_client, alice, campaign_id)["record_id"] == fourth  # type: ignore[index]
    callback = app_client.post(
        f"{API}/agent/campaigns/{campaign_id}/records/{fourth}/callback",
        json={"at": (T0 + timedelta(hours=2)).isoformat()},
        headers=alice.headers,
    )
    assert callback.status_code == 200, callback.text
    done(app_client, alice, campaign_id, fourth, "callback")
    scheduled = reasons(why(api, campaign_id, fourth))["callback_scheduled"]
    assert scheduled["until"].startswith((T0 + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))

    stopped = api.post(f"{API}/campaigns/{campaign_id}/stop")
    assert stopped.status_code == 200, stopped.text
    idle = reasons(why(api, campaign_id, third))["campaign_not_running"]
    assert idle["detail"]["state"] == "complete"

    # Agents may not ask; an unknown record is 404.
    refused = app_client.get(
        f"{API}/campaigns/{campaign_id}/records/{first}/eligibility", headers=alice.headers
    )
    assert refused.status_code == 403, refused.text
    missing = api.get(f"{API}/campaigns/{campaign_id}/records/999999/eligibility")
    assert missing.status_code == 404, missing.text


def test_window_dnc_and_another_campaign(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    # T0 is 08:00 in Phoenix: a window from 09:00 opens an hour later.
    late = pool_campaign(
        api, alice, 1, name="Late", calling_window={"start": "09:00", "end": "17:00"}
    )
    start(api, late)
    login(app_client, alice, late)
    (record,) = record_ids(db, late)
    outside = reasons(why(api, late, record))["outside_calling_window"]
    assert outside["detail"]["zone"] == "America/Phoenix"
    assert outside["detail"]["opens_local"] == "09:00"
    assert outside["until"].startswith((T0 + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))

    listed = pool_campaign(api, alice, 1, name="Listed")
    attach_dnc(api, listed, [phone(0)])
    start(api, listed)
    (record,) = record_ids(db, listed)
    assert reasons(why(api, listed, record))["dnc"]["detail"] == {"numbers": ["+16022000000"]}

    other = make_campaign(
        api, api.get(f"{API}/campaigns/{listed}").json()["list_id"],
        make_queue(api, [], name="Other"), name="Other", agent_owned_column=None,
    )  # fmt: skip
    with db.write() as session:
        session.execute(
            update(Record)
            .where(Record.id == record)
            .values(owner_campaign_id=other, owner_until=T0 + timedelta(days=2))
        )
    held = reasons(why(api, listed, record))["owned_by_another_campaign"]
    assert held["detail"] == {"campaign_id": other, "campaign": "Other"}
    assert held["until"].startswith((T0 + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))


def test_an_owned_record_waits_for_its_owner(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    alice, _bob = agents(make_user, "alice", "bob")
    list_id = make_list(api, owned_rows(["alice", "bob", "nobody@example.com"]))
    queue_id = make_queue(api, [alice])
    campaign_id = make_campaign(api, list_id, queue_id, sort=[{"column": "account"}])
    start(api, campaign_id)
    answers = [why(api, campaign_id, r) for r in record_ids(db, campaign_id)]
    by_reason = {b["reason"]: a for a in answers for b in a["blockers"]}
    (alices,) = [a for a in answers if list(reasons(a)) == ["owner_not_logged_in"]]
    assert reasons(alices)["owner_not_logged_in"]["detail"] == {"agent": "alice", "as": "owner"}
    bobs = by_reason["owner_not_in_queue"]
    assert reasons(bobs)["owner_not_in_queue"]["detail"] == {"agent": "bob", "as": "owner"}
    (nobodys,) = [a for a in answers if list(reasons(a)) == ["owner_error"]]
    assert reasons(nobodys)["owner_error"]["detail"] == {"error": "invalid_email"}
    login(app_client, alice, campaign_id)
    assert why(api, campaign_id, alices["record_id"])["deliverable"] is True


def test_a_lead_not_in_the_hopper(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = agents(make_user, "alice")
    campaign_id = pool_campaign(api, alice, 1, enforce_lead_ownership=True)
    start(api, campaign_id)
    (record,) = record_ids(db, campaign_id)
    assert "not_in_hopper" in reasons(why(api, campaign_id, record))


# --- the explanation and Get Record agree ---------------------------------------------------


def test_deliverable_is_what_get_record_returns_and_blocked_never_is(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    """Random states over a small campaign: whenever a record is reported deliverable,
    Get Record delivers one of the deliverable records (the best-ranked of them), and never
    one reported blocked; when none is, it delivers nothing."""
    (alice,) = agents(make_user, "alice")
    campaign_id = pool_campaign(api, alice, 8)
    other = make_campaign(
        api, api.get(f"{API}/campaigns/{campaign_id}").json()["list_id"],
        make_queue(api, [], name="Other"), name="Other", agent_owned_column=None,
    )  # fmt: skip
    attach_dnc(api, campaign_id, [phone(7)])
    start(api, campaign_id)
    login(app_client, alice, campaign_id)
    ids = record_ids(db, campaign_id)
    rng = random.Random(20261207)
    for _ in range(12):
        _randomise(db, campaign_id, other, ids, rng)
        answers = {r: why(api, campaign_id, r) for r in ids}
        deliverable = [r for r in ids if answers[r]["deliverable"]]
        best = _best(db, campaign_id, deliverable) if deliverable else None
        delivery = get_record(app_client, alice, campaign_id)
        if not deliverable:
            assert delivery is None, (delivery, answers)
            continue
        assert delivery is not None, answers
        got = delivery["record_id"]
        assert got in deliverable, answers[got]
        # The best-ranked: a due record first, else the first in campaign order.
        assert got == best, (got, deliverable)
        done(app_client, alice, campaign_id, got, "busy")


def _randomise(
    db: Database, campaign_id: int, other: int, ids: list[int], rng: random.Random
) -> None:
    """Each record gets a random state the claims look at."""
    hour = timedelta(hours=1)
    with db.write() as session:
        for record_id in ids:
            status = rng.choice(["ready", "ready", "waiting", "final", "blocked"])
            retry = rng.choice([None, T0 - hour, T0 + hour]) if status == "waiting" else None
            blocked = rng.choice([T0 - hour, T0 + hour]) if status == "blocked" else None
            session.execute(
                update(CampaignRecord)
                .where(
                    CampaignRecord.campaign_id == campaign_id,
                    CampaignRecord.record_id == record_id,
                )
                .values(
                    status=status,
                    retry_at=retry,
                    blocked_until=blocked,
                    tz=rng.choice(["America/Phoenix", "America/Phoenix", None]),
                )
            )  # fmt: skip
            owned = rng.random() < 0.25
            session.execute(
                update(Record)
                .where(Record.id == record_id)
                .values(
                    owner_campaign_id=other if owned else None,
                    owner_until=rng.choice([T0 - hour, T0 + hour]) if owned else None,
                )
            )


def _best(db: Database, campaign_id: int, candidates: list[int]) -> int:
    with db.read() as session:
        found = session.execute(
            CampaignRecord.__table__.select()
            .with_only_columns(
                CampaignRecord.record_id, CampaignRecord.status, CampaignRecord.retry_at,
                CampaignRecord.rank,
            )
            .where(CampaignRecord.campaign_id == campaign_id,
                   CampaignRecord.record_id.in_(candidates))
        ).all()  # fmt: skip
    due = sorted((r.retry_at, r.record_id) for r in found if r.status == "waiting")
    if due:
        return int(due[0][1])
    return int(min(found, key=lambda r: r.rank).record_id)
