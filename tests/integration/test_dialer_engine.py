"""The dialing engine through the real database, with the telephony simulator and simulated
agents in simulated time: progressive and predictive days, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.domain.pacing import PacingDecision, PacingObservation, ProgressivePacer
from callhopper.simulation.floor import create_floor
from callhopper.simulation.run import DayPlan, simulate_day
from callhopper.store.db import Database
from callhopper.store.models import Call, CampaignRecord, Interaction
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.simulator import SimulatorParams
from tests.conftest import T0


class TwoPerAgent(ProgressivePacer):
    """Two calls in flight per free agent: abandons for sure."""

    def decide(self, observation: PacingObservation) -> PacingDecision:
        in_flight = len(observation.ringing_s) + observation.waiting
        return PacingDecision(max(0, 2 * observation.agents_free - in_flight))


NETWORK = SimulatorParams(person_share=0.3, machine_share=0.2, fast_fail_share=0.1)


def test_a_progressive_hour_connects_every_answered_call_to_its_agent(
    db: Database, db_url: str
) -> None:
    floor = create_floor(
        SqlUnitOfWork(db), T0, agents=3, records=200, mode=DialingMode.PROGRESSIVE, seed=1
    )
    report = simulate_day(db_url, floor, DayPlan(hours=0.5, network=NETWORK, seed=1), T0)
    assert report.dialled > 20
    assert report.connected == report.answered_person > 0
    assert report.abandoned == 0
    with db.read() as session:
        calls = session.scalars(select(Call)).all()
        assert len(calls) == report.dialled
        # Each call went to the agent it was dialled for.
        for call in calls:
            if call.result == CallResult.CONNECTED.value:
                assert call.agent_id is not None
        dialled_calls = session.scalar(
            select(func.count()).select_from(Interaction).where(Interaction.kind == "call")
        )
        assert dialled_calls == report.dialled
        # Nothing is left with the dialer.
        assert not session.scalars(
            select(CampaignRecord.record_id).where(
                CampaignRecord.status == "leased", CampaignRecord.lease_agent_id.is_(None)
            )
        ).all()


def test_a_predictive_half_hour_with_more_calls_than_agents(db: Database, db_url: str) -> None:
    floor = create_floor(
        SqlUnitOfWork(db), T0, agents=3, records=300, mode=DialingMode.PREDICTIVE, seed=2
    )

    plan = DayPlan(hours=0.5, network=NETWORK, seed=2)
    report = simulate_day(db_url, floor, plan, T0, pacer=lambda _: TwoPerAgent())
    assert report.connected > 0 and report.abandoned > 0
    assert report.connected + report.abandoned == report.answered_person
    with db.read() as session:
        abandoned = session.scalars(
            select(Call).where(Call.result == CallResult.ABANDONED.value)
        ).all()
        assert len(abandoned) == report.abandoned
        assert all(c.message_played and c.agent_id is None for c in abandoned)
        # An abandoned call's record waits for its retry, with the call in its history.
        for call in abandoned:
            row = session.get(CampaignRecord, (floor.campaign_id, call.record_id))
            assert row is not None and row.status in ("waiting", "leased")
        connected = session.scalars(
            select(Call).where(Call.result == CallResult.CONNECTED.value)
        ).all()
        assert {(c.agent_id, c.record_id) for c in connected} == set(report.connected_pairs)
