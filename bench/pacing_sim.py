"""A fast discrete-event simulation of one campaign day, for the pacing benchmark.

It drives any :class:`~callhopper.domain.pacing.Pacer` the way the engine does (an
observation every second, feedback as calls resolve and agents finish), but without
asyncio or a database, so that hundreds of eight-hour days run in minutes. The fates of the
calls come from the simulator's :class:`~callhopper.telephony.simulator.FateSource`: the
n-th call placed gets the same fate whatever the policy (common random numbers), and the
wrap-up times come from its own stream.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing import Pacer, PacingObservation
from callhopper.telephony.simulator import CallFate, FateSource, SimulatorParams

DAY_S = 8 * 3600.0
#: How often the pacer is asked (seconds): the engine's tick.
TICK_S = 1.0

_RESOLVE, _TALK_END, _WRAP_END, _GIVE_UP, _TICK, _AWAY, _BACK = range(7)


@dataclass(frozen=True)
class Workload:
    """One kind of campaign day: agents, how calls resolve, how agents come and go."""

    family: str
    label: str
    agents: int
    params: SimulatorParams
    ring_timeout_s: float
    #: An answered person connected within this many seconds is not abandoned.
    grace_s: float
    day_s: float = DAY_S
    #: The person share drifts linearly over the day from the first to the second value.
    drift: tuple[float, float] | None = None
    #: (from, to, share): this share of the agents is away between these instants.
    absence: tuple[float, float, float] | None = None

    def person_share_at(self, t: float) -> float | None:
        if self.drift is None:
            return None
        start, end = self.drift
        return start + (end - start) * min(1.0, t / self.day_s)


@dataclass
class DayResult:
    """What one simulated day produced."""

    logged_in_s: float = 0.0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    dials: int = 0
    persons: int = 0
    abandons: int = 0

    @property
    def occupancy(self) -> float:
        return (self.talk_s + self.wrap_s) / self.logged_in_s if self.logged_in_s else 0.0

    @property
    def talk_min_per_agent_hour(self) -> float:
        return 60.0 * self.talk_s / self.logged_in_s if self.logged_in_s else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.persons if self.persons else 0.0


@dataclass
class _Day:
    workload: Workload
    pacer: Pacer
    fates: FateSource
    result: DayResult = field(default_factory=DayResult)
    events: list[tuple[float, int, int, int, float]] = field(default_factory=list)
    seq: int = 0
    free: list[int] = field(default_factory=list)
    talking: dict[int, float] = field(default_factory=dict)
    wrapping: dict[int, float] = field(default_factory=dict)
    leaving: set[int] = field(default_factory=set)
    away: dict[int, float] = field(default_factory=dict)
    in_flight: dict[int, float] = field(default_factory=dict)
    call_fates: dict[int, CallFate] = field(default_factory=dict)
    waiting: dict[int, float] = field(default_factory=dict)
    calls: int = 0

    def push(self, at: float, kind: int, a: int = 0, b: float = 0.0) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, a, b))

    def busy_until(self, start: float, end: float) -> float:
        """The part of [start, end] inside the day."""
        return max(0.0, min(end, self.workload.day_s) - start)


def simulate_day(workload: Workload, pacer: Pacer, seed: int) -> DayResult:
    """Run one day of ``workload`` under ``pacer``; the same ``seed`` gives every policy the
    same fates in the order its calls are placed."""
    day = _Day(workload, pacer, FateSource(workload.params, seed))
    day.free = list(range(workload.agents))
    pacer.start_day(0.0)
    day.push(0.0, _TICK)
    if workload.absence is not None:
        start, end, _ = workload.absence
        day.push(start, _AWAY)
        day.push(end, _BACK)
    handlers: dict[int, Callable[[_Day, float, int, float], None]] = {
        _RESOLVE: _resolve,
        _TALK_END: _talk_end,
        _WRAP_END: _wrap_end,
        _GIVE_UP: _give_up,
        _TICK: _tick,
        _AWAY: _go_away,
        _BACK: _come_back,
    }
    day_s = workload.day_s
    events = day.events
    while events:
        now, _, kind, a, b = heapq.heappop(events)
        if now > day_s:
            break
        handlers[kind](day, now, a, b)
    result = day.result
    result.talk_s += sum(day_s - since for since in day.talking.values())
    result.wrap_s += sum(day_s - since for since in day.wrapping.values())
    away_s = sum(day_s - since for since in day.away.values())
    result.logged_in_s += workload.agents * day_s - away_s
    return result


def _tick(day: _Day, now: float, _a: int, _b: float) -> None:
    leaving = day.leaving
    if leaving:
        talking = [now - t for a, t in day.talking.items() if a not in leaving]
        wrapping = [now - t for a, t in day.wrapping.items() if a not in leaving]
    else:
        talking = [now - t for t in day.talking.values()]
        wrapping = [now - t for t in day.wrapping.values()]
    observation = PacingObservation(
        now,
        day.workload.agents - len(day.away),
        len(day.free),
        talking,
        wrapping,
        [now - t for t in day.in_flight.values()],
        len(day.waiting),
    )
    decision = day.pacer.decide(observation)
    workload = day.workload
    share = workload.person_share_at(now)
    for _ in range(decision.calls):
        fate = day.fates.next_fate(workload.ring_timeout_s, person_share=share)
        call = day.calls
        day.calls += 1
        day.in_flight[call] = now
        day.call_fates[call] = fate
        day.push(now + fate.resolve_after_s, _RESOLVE, call)
    day.result.dials += decision.calls
    day.push(now + TICK_S, _TICK)


def _resolve(day: _Day, now: float, call: int, _b: float) -> None:
    placed = day.in_flight.pop(call)
    fate = day.call_fates.pop(call)
    detected = fate.detected if fate.detected is not None else fate.outcome
    day.pacer.call_resolved(detected, now - placed, now)
    if detected is not CallOutcome.PERSON:
        return  # machines are hung up on; the other calls ended unanswered
    day.result.persons += 1
    if day.free:
        _connect(day, day.free.pop(), now, fate.talk_s)
    elif day.workload.grace_s > 0:
        day.waiting[call] = fate.talk_s
        day.push(now + day.workload.grace_s, _GIVE_UP, call)
    else:
        _abandon(day, now)


def _connect(day: _Day, agent: int, now: float, talk_s: float) -> None:
    day.talking[agent] = now
    day.push(now + talk_s, _TALK_END, agent, talk_s)


def _abandon(day: _Day, now: float) -> None:
    day.result.abandons += 1
    day.pacer.abandoned(now)


def _give_up(day: _Day, now: float, call: int, _b: float) -> None:
    if day.waiting.pop(call, None) is not None:
        _abandon(day, now)


def _talk_end(day: _Day, now: float, agent: int, talk_s: float) -> None:
    start = day.talking.pop(agent)
    day.result.talk_s += day.busy_until(start, now)
    day.pacer.talk_ended(talk_s, now)
    wrap = day.fates.next_wrap_s()
    if wrap > 0:
        day.wrapping[agent] = now
        day.push(now + wrap, _WRAP_END, agent, wrap)
    else:
        day.pacer.wrap_ended(0.0, now)
        _freed(day, agent, now)


def _wrap_end(day: _Day, now: float, agent: int, wrap_s: float) -> None:
    start = day.wrapping.pop(agent)
    day.result.wrap_s += day.busy_until(start, now)
    day.pacer.wrap_ended(wrap_s, now)
    _freed(day, agent, now)


def _freed(day: _Day, agent: int, now: float) -> None:
    if agent in day.leaving:
        day.leaving.discard(agent)
        day.away[agent] = now
    elif day.waiting:
        call = next(iter(day.waiting))
        _connect(day, agent, now, day.waiting.pop(call))
    else:
        day.free.append(agent)


def _go_away(day: _Day, now: float, _a: int, _b: float) -> None:
    absence = day.workload.absence
    assert absence is not None
    for agent in range(round(day.workload.agents * absence[2])):
        if agent in day.free:
            day.free.remove(agent)
            day.away[agent] = now
        else:
            day.leaving.add(agent)


def _come_back(day: _Day, now: float, _a: int, _b: float) -> None:
    day.leaving.clear()
    for agent, since in list(day.away.items()):
        day.result.logged_in_s -= now - since
        del day.away[agent]
        _freed(day, agent, now)
