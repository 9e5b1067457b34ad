"""A short simulated day through the real dialing engine, on the real database (SQLite and
PostgreSQL), checked afterwards from what the database recorded: no record dialled twice
at once, no number on a do-not-call list or not validated dialled, nothing dialled outside
the calling window in the contact's own time zone, owners respected, and every abandoned
call recorded with its message played."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from callhopper.clock import FrozenClock
from callhopper.core.dnc import DncService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import CampaignSettings, DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.domain.predial import Verdict
from callhopper.simulation.floor import CALLER_ID, create_floor, floor_rows
from callhopper.simulation.run import DayPlan, simulate_day
from callhopper.store.db import Database
from callhopper.store.models import Call, CampaignRecord, Interaction, Record, User
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.simulator import SimulatorParams

#: 16:30 UTC on a Monday: 11:30 in New York, 08:30 in Los Angeles. With a 09:00-12:00
#: window, New York closes and Los Angeles opens half an hour into the day.
START = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
WINDOW = CallingWindow(start="09:00", end="12:00")
NETWORK = SimulatorParams(person_share=0.35, machine_share=0.2, fast_fail_share=0.1)
RECORDS = 400


class EveryTenthUnvalidated:
    """A validation service that cannot answer for one number in ten (those ending in 3)."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def check(self, numbers: Sequence[str]) -> dict[str, Verdict]:
        self.asked.update(numbers)
        return {n: Verdict.UNAVAILABLE if n.endswith("3") else Verdict.ALLOWED for n in numbers}


def dialled_calls(db: Database) -> list[tuple[Call, str]]:
    with db.read() as session:
        rows = session.execute(
            select(Call, Record.tz)
            .join(Record, Record.id == Call.record_id)
            .order_by(Call.placed_at)
        ).all()
    return [(call, tz) for call, tz in rows]


def assert_never_twice_at_once(calls: list[tuple[Call, str]]) -> None:
    by_record: dict[int, list[Call]] = defaultdict(list)
    for call, _ in calls:
        by_record[call.record_id].append(call)
    for record_calls in by_record.values():
        for before, after in itertools.pairwise(record_calls):
            assert before.ended_at is not None and after.placed_at >= before.ended_at


def assert_inside_window(calls: list[tuple[Call, str]]) -> None:
    for call, tz in calls:
        assert WINDOW.is_open(call.placed_at, tz), (call.placed_at, tz)


def test_a_predictive_day_keeps_every_rule(db: Database, db_url: str) -> None:
    uow = SqlUnitOfWork(db)
    floor = create_floor(
        uow,
        START,
        agents=6,
        records=RECORDS,
        mode=DialingMode.PREDICTIVE,
        seed=11,
        zones=4,
        window=WINDOW,
    )
    # One number in seven on the campaign's do-not-call list.
    numbers = [row["phone"] for row in floor_rows(RECORDS, 11, zones=4)]
    on_dnc = set(numbers[::7])
    dnc = DncService(uow, FrozenClock(START), default_region="US", import_batch_rows=1000)
    dnc_list = dnc.create_list(SYSTEM, name="Do not call").list
    dnc.add_numbers(SYSTEM, dnc_list.id, sorted(on_dnc))
    dnc.attach_list(SYSTEM, floor.campaign_id, dnc_list.id)
    validator = EveryTenthUnvalidated()

    plan = DayPlan(hours=1.0, network=NETWORK, seed=11)
    report = simulate_day(db_url, floor, plan, START, validator=validator)

    calls = dialled_calls(db)
    assert len(calls) == report.dialled > 50
    assert report.connected > 10
    assert_never_twice_at_once(calls)
    assert_inside_window(calls)
    zones = {tz for _, tz in calls}
    assert {"America/New_York", "America/Los_Angeles"} <= zones  # both sides of the hour
    for call, _ in calls:
        assert call.number not in on_dnc
        assert not call.number.endswith("3")  # never dialled unvalidated
    assert validator.asked  # the service was asked before the calls
    with db.read() as session:
        abandoned = [c for c, _ in calls if c.result == CallResult.ABANDONED.value]
        assert len(abandoned) == report.abandoned
        for call in abandoned:
            assert call.message_played and call.answered_by == "person"
            history = session.scalars(
                select(Interaction.note).where(
                    Interaction.record_id == call.record_id, Interaction.kind == "wrapup"
                )
            ).all()
            assert "automatic: abandoned" in history
        # Records skipped for the lists are closed with the reason, never dialled.
        closed = session.scalars(
            select(CampaignRecord.last_code).where(
                CampaignRecord.campaign_id == floor.campaign_id,
                CampaignRecord.last_code.in_(["dnc", "not_validated"]),
            )
        ).all()
        assert closed
    # The day's abandon rate stays under the campaign's target (3%).
    assert report.abandon_rate <= CampaignSettings().abandon_target


def test_a_progressive_day_of_owned_records_gives_each_call_to_its_owner(
    db: Database, db_url: str
) -> None:
    uow = SqlUnitOfWork(db)
    floor = create_floor(
        uow,
        START,
        agents=3,
        records=120,
        mode=DialingMode.PROGRESSIVE,
        seed=12,
        zones=4,
        owned=True,
        window=WINDOW,
        settings=CampaignSettings(caller_ids=(CALLER_ID,)),
    )
    # The third agent is away all day: their records are never dialled.
    plan = DayPlan(hours=0.75, network=NETWORK, seed=12, breaks=((0.0, 1.0, 1 / 3),))
    report = simulate_day(db_url, floor, plan, START)
    calls = dialled_calls(db)
    assert report.connected > 5
    assert_never_twice_at_once(calls)
    assert_inside_window(calls)
    away = min(floor.agents)
    with db.read() as session:
        owner_of = dict(
            session.execute(
                select(CampaignRecord.record_id, CampaignRecord.agent_id).where(
                    CampaignRecord.campaign_id == floor.campaign_id
                )
            ).all()
        )
        emails = dict(session.execute(select(User.id, User.email)).all())
    for call, _ in calls:
        assert call.agent_id == owner_of[call.record_id] != away, emails.get(call.agent_id)
    assert {agent for agent, _ in report.connected_pairs} <= set(floor.agents) - {away}
