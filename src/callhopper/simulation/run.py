"""A simulated campaign day: the real dialing engine, on a database, with the telephony
simulator and simulated agents, in simulated time (see :func:`simulate_day`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from callhopper.core.dialer.dialing import Campaign, Dialing
from callhopper.core.dialer.engine import DialerEngine, default_pacer
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.pacing import Pacer
from callhopper.ports.validation import NumberValidator
from callhopper.simulation.agents import LoopClock, SimAgents
from callhopper.simulation.floor import Floor
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.simulator import SimulatedTelephony, SimulatorParams, run_simulated

#: Seconds between two samples of the day's curves.
SAMPLE_S = 60.0


@dataclass(frozen=True)
class Sample:
    """The floor at one instant of the day."""

    at_s: float
    in_flight: int
    #: Abandoned ÷ answered by a person since the day began.
    abandon_rate: float
    #: Agents talking or wrapping up ÷ agents logged in.
    occupancy: float


@dataclass
class DayReport:
    """What a simulated day did."""

    hours: float
    agents: int
    dialled: int = 0
    answered_person: int = 0
    answered_machine: int = 0
    connected: int = 0
    abandoned: int = 0
    unanswered: int = 0
    logged_in_s: float = 0.0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    waits: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    connected_pairs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered_person if self.answered_person else 0.0

    @property
    def occupancy(self) -> float:
        return (self.talk_s + self.wrap_s) / self.logged_in_s if self.logged_in_s else 0.0

    @property
    def talk_minutes_per_agent_hour(self) -> float:
        return (self.talk_s / 60) / (self.logged_in_s / 3600) if self.logged_in_s else 0.0

    @property
    def mean_wait_s(self) -> float:
        return sum(self.waits) / len(self.waits) if self.waits else 0.0


@dataclass(frozen=True)
class DayPlan:
    """How the day goes: its length, the network, and agents leaving for a while."""

    hours: float
    network: SimulatorParams
    seed: int = 0
    #: (from hour, to hour, share of agents) away in that interval.
    breaks: tuple[tuple[float, float, float], ...] = ()


async def run_day(
    uow: SqlUnitOfWork,
    floor: Floor,
    plan: DayPlan,
    start: datetime,
    *,
    pacer: Callable[[Campaign], Pacer] = default_pacer,
    validator: NumberValidator | None = None,
) -> DayReport:
    """Run the day in the current event loop (real or simulated time); ``validator``: the
    pre-dial validation service the calls go through (none: the DNC lists only)."""
    telephony = SimulatedTelephony(plan.network, seed=plan.seed, start=start)
    clock = LoopClock(start)
    clock.now()  # the day's origin
    agents = SimAgents(
        Dispenser(uow, clock), floor.campaign_id, floor.agents, telephony.next_wrap_s
    )
    dispenser = Dispenser(uow, clock, bus=agents, validator=validator)
    agents.dispenser = dispenser
    engine = DialerEngine(
        Dialing(dispenser, holder=f"simulate-{plan.seed}"), telephony, pacer=pacer
    )
    dispenser.on_work = engine.wake
    agents.on_free = engine.wake
    task = asyncio.get_running_loop().create_task(engine.run())
    await asyncio.sleep(0)
    report = DayReport(plan.hours, len(floor.agents))
    end_s = plan.hours * 3600
    ids = sorted(floor.agents)

    def away_at(hour: float) -> set[int]:
        away: set[int] = set()
        for first, last, share in plan.breaks:
            if first <= hour < last:
                away |= set(ids[: int(len(ids) * share)])
        return away

    away = away_at(0.0)
    agents.log_in(sorted(set(ids) - away))
    t = 0.0
    while t < end_s:
        step = min(SAMPLE_S, end_s - t)
        await asyncio.sleep(step)
        t += step
        should = away_at(t / 3600)
        if should - away:
            agents.log_out(sorted(should - away))
        if away - should:
            agents.log_in(sorted(away - should))
        away = should
        report.samples.append(_sample(t, engine, agents))
    engine.stop()
    await task
    agents.finish()
    stats = engine.stats
    report.dialled, report.connected = stats.dialled, stats.connected
    report.answered_person, report.answered_machine = stats.answered_person, stats.answered_machine
    report.abandoned, report.unanswered = stats.abandoned, stats.unanswered
    for log in agents.logs.values():
        report.logged_in_s += log.logged_in_s
        report.talk_s += log.talk_s
        report.wrap_s += log.wrap_s
        report.waits.extend(log.waits)
    report.connected_pairs = list(agents.connected)
    return report


def _sample(t: float, engine: DialerEngine, agents: SimAgents) -> Sample:
    stats = engine.stats
    rate = stats.abandoned / stats.answered_person if stats.answered_person else 0.0
    floors = list(engine.floors.values())
    in_flight = sum(len(f.ringing) + len(f.waiting) for f in floors)
    logged, busy = agents.on_floor()
    occupancy = busy / logged if logged else 0.0
    return Sample(t, in_flight, rate, occupancy)


def simulate_day(
    db_url: str,
    floor: Floor,
    plan: DayPlan,
    start: datetime,
    *,
    pacer: Callable[[Campaign], Pacer] = default_pacer,
    validator: NumberValidator | None = None,
) -> DayReport:
    """:func:`run_day` in simulated time, on the database at ``db_url`` (already holding
    the floor)."""
    db = Database(db_url)
    try:
        day = run_day(SqlUnitOfWork(db), floor, plan, start, pacer=pacer, validator=validator)
        return run_simulated(day)
    finally:
        db.dispose()
