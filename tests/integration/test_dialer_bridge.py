"""An answered call whose bridge to the agent fails (the agent's phone does not take it) is
not a connected call: it is abandoned with the campaign's message, its record is retried,
and the agent holds nothing and is set not ready on voice. Through the real engine and
database with the telephony simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callhopper.core.dialer.engine import default_line
from callhopper.domain.campaigns import Channel, DialingMode
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


@pytest.mark.parametrize("mode", [DialingMode.PROGRESSIVE, DialingMode.PREDICTIVE])
def test_a_failed_bridge_is_an_abandon_and_the_agent_is_freed(
    db: Database, db_url: str, mode: DialingMode
) -> None:
    uow = SqlUnitOfWork(db)
    floor = create_floor(uow, T0, agents=3, records=300, mode=mode, seed=5)
    unplugged = min(floor.agents)
    network = SimulatorParams(
        person_share=0.35,
        machine_share=0.2,
        fast_fail_share=0.1,
        unreachable=frozenset({default_line(unplugged).address}),
    )
    report = simulate_day(db_url, floor, DayPlan(hours=0.5, network=network, seed=5), T0)

    with db.read() as session:
        calls = session.scalars(select(Call).order_by(Call.placed_at)).all()
        # Not one call is recorded as connected to the agent whose phone is unplugged.
        assert not [c for c in calls if c.agent_id == unplugged and c.connected_at is not None]
        assert not [
            c for c in calls if c.result == CallResult.CONNECTED.value and c.agent_id == unplugged
        ]
        # The record handed to them was wrapped up by the engine, in their name.
        handed = session.scalars(
            select(Interaction.record_id).where(
                Interaction.agent_id == unplugged,
                Interaction.kind == "wrapup",
                Interaction.note == "automatic: abandoned",
            )
        ).all()
        failed = [c for c in calls if c.record_id in handed and c.answered_by == "person"]
        # The first call handed to them is abandoned, with the message played (the contact
        # was still on the line), and counts in the abandon rate.
        assert len(failed) == 1
        lost = failed[0]
        assert lost.result == CallResult.ABANDONED.value
        assert report.abandoned >= 1
        assert report.connected + report.abandoned == report.answered_person
        # Its record is not the agent's any more: it waits for its retry.
        row = session.get(CampaignRecord, (floor.campaign_id, lost.record_id))
        assert row is not None
        assert row.lease_agent_id is None and row.status == "waiting"
        assert row.last_code == "no_answer"
        # The agent holds nothing and is not ready on voice: no call is dialled for them
        # or connected to them afterwards.
        assert not session.scalars(
            select(CampaignRecord.record_id).where(CampaignRecord.lease_agent_id == unplugged)
        ).all()
        assert lost.answered_at is not None
        later = [c for c in calls if c.placed_at > lost.answered_at and c.agent_id == unplugged]
        assert later == []
        assert lost.connected_at is None and lost.message_played
    with uow.read() as tx:
        assert tx.agents.channels(unplugged).get(Channel.VOICE) is False
    # The other agents took calls all along.
    assert {agent for agent, _ in report.connected_pairs} - {unplugged}
    assert report.connected > 5
