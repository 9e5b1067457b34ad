"""Personal callbacks in a predictive campaign: a due one is dialled for its agent when that
agent is free, and goes to them; the rest of the campaign keeps being dialled ahead by the
pacer meanwhile (a callback waiting, due or not, does not turn the campaign progressive),
and the pacer does not count the agent waiting for their callback as free. Through the real
engine and database with the telephony simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from callhopper.domain.campaigns import CampaignSettings, DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.simulation.floor import create_floor
from callhopper.simulation.run import DayPlan, simulate_day
from callhopper.store.db import Database
from callhopper.store.models import Call, CampaignRecord, Interaction
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.simulator import SimulatorParams
from tests.conftest import T0

#: A simulated half hour on a loaded machine can take minutes.
pytestmark = pytest.mark.timeout(600)

AGENTS = 6
NETWORK = SimulatorParams(person_share=0.3, machine_share=0.2, fast_fail_share=0.1)


def reserve(db: Database, campaign_id: int, record_id: int, agent_id: int, due_min: float) -> None:
    """A personal callback of ``agent_id`` on the record, due ``due_min`` minutes into the
    day (as Done with a personal callback leaves it)."""
    with db.write() as session:
        session.execute(
            update(CampaignRecord)
            .where(CampaignRecord.campaign_id == campaign_id, CampaignRecord.record_id == record_id)
            .values(
                status="waiting",
                retry_at=T0 + timedelta(minutes=due_min),
                reserved_for=agent_id,
            )
        )


def test_a_predictive_campaign_dials_personal_callbacks_for_their_agents_and_paces_the_rest(
    db: Database, db_url: str
) -> None:
    floor = create_floor(
        SqlUnitOfWork(db), T0, agents=AGENTS, records=600, mode=DialingMode.PREDICTIVE, seed=7
    )
    with db.read() as session:
        records = session.scalars(
            select(CampaignRecord.record_id)
            .where(CampaignRecord.campaign_id == floor.campaign_id)
            .order_by(CampaignRecord.rank.desc())
            .limit(4)
        ).all()
    ann, bob, cat, *_ = sorted(floor.agents)
    due = {records[0]: (ann, 5.0), records[1]: (bob, 10.0), records[2]: (ann, 15.0)}
    for record_id, (agent_id, minutes) in due.items():
        reserve(db, floor.campaign_id, record_id, agent_id, minutes)
    reserve(db, floor.campaign_id, records[3], cat, 24 * 60.0)  # tomorrow: waits all day

    report = simulate_day(db_url, floor, DayPlan(hours=0.5, network=NETWORK, seed=7), T0)

    with db.read() as session:
        calls = session.scalars(select(Call).order_by(Call.placed_at)).all()
    by_record: dict[int, list[Call]] = {}
    for call in calls:
        by_record.setdefault(call.record_id, []).append(call)
    for record_id, (agent_id, minutes) in due.items():
        # Dialled once due, for its agent, as soon as they are free: they take no other
        # call in between. An answered person is connected to that agent, nobody else.
        first = by_record[record_id][0]
        assert first.agent_id == agent_id
        due_at = T0 + timedelta(minutes=minutes)
        assert due_at <= first.placed_at
        taken_meanwhile = [
            c
            for c in calls
            if c.agent_id == agent_id
            and c.connected_at is not None
            and due_at <= c.connected_at < first.placed_at
        ]
        assert taken_meanwhile == []
        if first.answered_by == "person":
            assert first.result == CallResult.CONNECTED.value
            assert (agent_id, record_id) in report.connected_pairs
    assert records[3] not in by_record  # not due: not dialled
    # Every other call is the pacer's, dialled for no agent (the history's call line names
    # the agent a call was dialled for), all day long, callbacks waiting or not.
    with db.read() as session:
        dialled_for = set(
            session.scalars(
                select(Interaction.record_id).where(
                    Interaction.kind == "call", Interaction.agent_id.is_not(None)
                )
            ).all()
        )
    assert dialled_for == set(due)
    pooled = [c for c in calls if c.record_id not in due]
    assert len(pooled) > 60
    for minute in range(0, 30, 5):
        start = T0 + timedelta(minutes=minute)
        assert [c for c in pooled if start <= c.placed_at < start + timedelta(minutes=5)]
    # Without over-dialling for the callbacks.
    assert report.abandon_rate <= CampaignSettings().abandon_target
    assert report.connected > 15
