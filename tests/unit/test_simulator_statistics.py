"""The telephony simulator is tested statistically: with a fixed seed, what it draws falls
within confidence intervals of its parameters (four standard errors: a correct simulator
fails one of these checks about once in 16,000 seeds; the seeds are fixed, so never)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from callhopper.domain.calls import (
    AgentLine,
    Answered,
    CallEvent,
    CallId,
    CallOutcome,
    DialRequest,
    HungUp,
    Party,
    Ringing,
    Unanswered,
)
from callhopper.telephony.simulator import (
    Exponential,
    FateSource,
    LogNormal,
    SimulatedTelephony,
    SimulatorParams,
    Uniform,
    run_simulated,
)

Z = 4.0
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARAMS = SimulatorParams(
    person_share=0.2,
    machine_share=0.3,
    fast_fail_share=0.1,
    busy_share_of_fast_fails=0.4,
    setup_s=2.0,
    answer_time=LogNormal(mean_s=8.0, cv=0.6),
    fast_fail_time=Uniform(0.5, 3.0),
    person_as_machine=0.1,
    machine_as_person=0.05,
    talk_time=LogNormal(mean_s=150.0, cv=1.0),
    wrap_time=Exponential(20.0),
)
#: Long enough that truncating the answer time there changes nothing measurable.
LONG_TIMEOUT_S = 120.0


def assert_share(observed: int, total: int, p: float) -> None:
    half_width = Z * math.sqrt(p * (1 - p) / total)
    assert abs(observed / total - p) <= half_width, (observed / total, p, half_width)


def assert_mean(values: Sequence[float], mean: float, sd: float) -> None:
    half_width = Z * sd / math.sqrt(len(values))
    observed = sum(values) / len(values)
    assert abs(observed - mean) <= half_width, (observed, mean, half_width)


def test_fates_have_the_shares_times_and_errors_of_their_parameters() -> None:
    source = FateSource(PARAMS, seed=7)
    fates = [source.next_fate(LONG_TIMEOUT_S) for _ in range(20_000)]
    n = len(fates)
    by = {outcome: [f for f in fates if f.outcome is outcome] for outcome in CallOutcome}
    persons, machines = by[CallOutcome.PERSON], by[CallOutcome.MACHINE]
    fast = by[CallOutcome.BUSY] + by[CallOutcome.FAILED]
    assert_share(len(persons), n, PARAMS.person_share)
    assert_share(len(machines), n, PARAMS.machine_share)
    assert_share(len(fast), n, PARAMS.fast_fail_share)
    assert_share(len(by[CallOutcome.NO_ANSWER]), n, PARAMS.no_answer_share)
    assert_share(len(by[CallOutcome.BUSY]), len(fast), PARAMS.busy_share_of_fast_fails)
    assert {f.code for f in by[CallOutcome.BUSY]} == {"486"}

    answer = PARAMS.answer_time
    answered = persons + machines
    assert_mean([f.resolve_after_s for f in answered], 2.0 + answer.mean, 0.6 * answer.mean)
    assert all(f.ringing_after_s == 2.0 for f in answered)
    assert_mean([f.resolve_after_s for f in fast], 1.75, 2.5 / math.sqrt(12))
    assert all(f.ringing_after_s is None for f in fast)
    assert {f.resolve_after_s for f in by[CallOutcome.NO_ANSWER]} == {LONG_TIMEOUT_S}

    assert_mean([f.talk_s for f in persons], 150.0, 150.0)
    wrong_persons = sum(f.detected is CallOutcome.MACHINE for f in persons)
    wrong_machines = sum(f.detected is CallOutcome.PERSON for f in machines)
    assert_share(wrong_persons, len(persons), PARAMS.person_as_machine)
    assert_share(wrong_machines, len(machines), PARAMS.machine_as_person)
    assert_mean([source.next_wrap_s() for _ in range(5_000)], 20.0, 20.0)


def test_answers_are_drawn_below_the_ring_timeout_keeping_the_shares() -> None:
    params = SimulatorParams(
        person_share=0.3,
        machine_share=0.0,
        fast_fail_share=0.0,
        answer_time=LogNormal(mean_s=12.0, cv=1.0),
    )
    source = FateSource(params, seed=3)
    fates = [source.next_fate(15.0) for _ in range(10_000)]
    persons = [f for f in fates if f.outcome is CallOutcome.PERSON]
    assert_share(len(persons), len(fates), 0.3)
    assert max(f.resolve_after_s for f in fates) <= 15.0


def test_the_adapter_reports_what_its_fates_say_in_simulated_time() -> None:
    """Calls placed through the port: the events' timestamps give the ring and talk times,
    and their ``by`` the detection errors, within the parameters' intervals."""

    async def day() -> tuple[list[float], list[float], SimulatedTelephony, dict[str, int]]:
        tel = SimulatedTelephony(PARAMS, seed=11, start=START)
        bridged: dict[CallId, datetime] = {}
        ring_s: list[float] = []
        talk_s: list[float] = []
        counts = {"answered": 0, "unanswered": 0}
        for i in range(3_000):
            call_id = CallId(f"c{i}")
            await tel.originate(DialRequest(call_id, "+14155550100", "+14155550199"))
        async for event in tel.events():
            if isinstance(event, Answered):
                counts["answered"] += 1
                ring_s.append((event.at - START).total_seconds())
                await tel.bridge(event.call_id, AgentLine("a", "sip:a@example.com"))
                bridged[event.call_id] = event.at
            elif isinstance(event, Unanswered):
                counts["unanswered"] += 1
            elif isinstance(event, HungUp):
                talked = (event.at - bridged.pop(event.call_id)).total_seconds()
                if event.by is Party.CONTACT:
                    talk_s.append(talked)
                if not bridged and counts["answered"] + counts["unanswered"] == 3_000:
                    break
        await tel.close()
        return ring_s, talk_s, tel, counts

    ring_s, talk_s, tel, counts = run_simulated(day())
    stats = tel.stats
    assert stats.placed == 3_000
    assert (
        counts["answered"]
        == stats.by_outcome[CallOutcome.PERSON] + stats.by_outcome[CallOutcome.MACHINE]
    )
    assert_share(stats.by_outcome[CallOutcome.PERSON], 3_000, PARAMS.person_share)
    # All calls were placed at the start of simulated time: an answer's timestamp is its ring
    # time (setup plus a log-normal time to answer, truncated at the default 25-s timeout).
    answer = PARAMS.answer_time
    limit = 25.0 - PARAMS.setup_s
    truncated_mean = _truncated_mean(answer.quantile, answer.cdf(limit))
    assert_mean(ring_s, 2.0 + truncated_mean, 0.6 * answer.mean)
    # Persons hang up after their talk time (machines are hung up by the agent's side).
    assert_mean(talk_s, 150.0, 150.0)
    assert len(talk_s) == stats.by_outcome[CallOutcome.PERSON]


def _truncated_mean(quantile: object, mass: float, steps: int = 20_000) -> float:
    """The mean of a distribution truncated to its lowest ``mass``, by the midpoint rule."""
    assert callable(quantile)
    return sum(quantile((i + 0.5) / steps * mass) for i in range(steps)) / steps


def test_simulated_time_runs_an_eight_hour_day_of_100_agents() -> None:
    """100 agents dial progressively (each places a call, takes it if a person answers,
    wraps up, and dials again) for eight simulated hours; the run takes seconds, and the
    day's figures are those of the parameters."""
    day_s = 8 * 3600.0
    params = SimulatorParams(talk_time=LogNormal(mean_s=150.0, cv=1.0))

    async def day() -> tuple[float, int, float]:
        tel = SimulatedTelephony(params, seed=5, start=START)
        loop = asyncio.get_running_loop()
        pending: dict[CallId, asyncio.Future[CallEvent]] = {}
        talked = [0.0]

        async def dispatch() -> None:
            async for event in tel.events():
                future = pending.pop(event.call_id, None)
                if future is not None and not isinstance(event, Ringing):
                    future.set_result(event)
                elif future is not None:
                    pending[event.call_id] = future

        async def agent(n: int) -> None:
            line = AgentLine(f"a{n}", f"sip:a{n}@example.com")
            i = 0
            while loop.time() < day_s:
                i += 1
                call_id = CallId(f"{n}-{i}")
                pending[call_id] = loop.create_future()
                await tel.originate(DialRequest(call_id, "+14155550100", "+14155550199"))
                event = await pending[call_id]
                if isinstance(event, Answered) and event.by is CallOutcome.PERSON:
                    pending[call_id] = loop.create_future()
                    await tel.bridge(call_id, line)
                    hung_up = await pending[call_id]
                    talked[0] += (hung_up.at - event.at).total_seconds()
                    await asyncio.sleep(tel.next_wrap_s())
                elif isinstance(event, Answered):
                    pending[call_id] = loop.create_future()
                    await tel.hang_up(call_id)
                    await pending[call_id]

        dispatcher = asyncio.create_task(dispatch())
        await asyncio.gather(*(agent(n) for n in range(100)))
        await tel.close()
        await dispatcher
        return loop.time(), tel.stats.placed, talked[0]

    ended_s, placed, talked_s = run_simulated(day())
    assert day_s <= ended_s < day_s + 3600
    # A call rings 10 s when answered, 1.75 s when it fails fast, 25 s when not answered;
    # a machine is listened to for 5 s, a person talked to for 150 s then wrapped for 20.
    cycle_s = 0.4 * 10 + 0.15 * 1.75 + 0.45 * 25 + 0.25 * 5 + 0.15 * 170
    per_agent = day_s / cycle_s
    assert 0.9 * 100 * per_agent < placed < 1.1 * 100 * per_agent
    assert 0.9 < talked_s / (100 * day_s) / (0.15 * 150 / cycle_s) < 1.1
