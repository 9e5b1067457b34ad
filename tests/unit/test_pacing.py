"""The pacers: pure rules, driven with hand-made observations and feedback."""

from __future__ import annotations

import pytest

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing import (
    PacingDecision,
    PacingObservation,
    PacingTarget,
    PredictivePacer,
    ProgressivePacer,
)
from callhopper.domain.pacing.predictive import LIMIT_MIN, WARMUP_CALLS


def observe(
    *,
    now: float = 0.0,
    agents: int = 20,
    free: int = 0,
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
    ringing: tuple[float, ...] = (),
    waiting: int = 0,
) -> PacingObservation:
    return PacingObservation(now, agents, free, talking, wrapping, ringing, waiting)


def trained(person_share: float = 0.2, calls: int = 500, talk_s: float = 120.0) -> PredictivePacer:
    """A pacer that has seen ``calls`` calls, a share of them answered by a person after
    8 s, the others resolved after 15 s, and 50 calls of ``talk_s`` with 10-s wrap-ups."""
    pacer = PredictivePacer()
    every = round(1 / person_share)
    for i in range(calls):
        if i % every == 0:
            pacer.call_resolved(CallOutcome.PERSON, 8.0, i)
        else:
            pacer.call_resolved(CallOutcome.NO_ANSWER, 15.0, i)
    for i in range(50):
        pacer.talk_ended(talk_s, i)
        pacer.wrap_ended(10.0, i)
    pacer.start_day(0.0)
    # A day already under way, with no abandon: the guard does not hold the pacer back.
    for _ in range(200):
        pacer.call_resolved(CallOutcome.PERSON, 8.0, 0.0)
    return pacer


def test_an_observation_counts_no_more_agents_than_are_logged_in() -> None:
    with pytest.raises(ValueError, match="exceed"):
        observe(agents=2, free=1, talking=(3.0, 4.0))
    with pytest.raises(ValueError, match="ringing_s"):
        observe(ringing=(-1.0,))
    with pytest.raises(ValueError, match="waiting"):
        observe(waiting=-1)
    with pytest.raises(ValueError, match="calls"):
        PacingDecision(-1)
    with pytest.raises(ValueError, match="abandon_rate"):
        PacingTarget(abandon_rate=0.0)


def test_progressive_keeps_one_call_in_flight_per_free_agent() -> None:
    pacer = ProgressivePacer()
    assert pacer.decide(observe(free=5)).calls == 5
    assert pacer.decide(observe(free=5, ringing=(1.0, 2.0), waiting=1)).calls == 2
    assert pacer.decide(observe(free=1, ringing=(1.0, 2.0))).calls == 0


def test_a_pacer_without_estimates_dials_progressively() -> None:
    pacer = PredictivePacer()
    for i in range(WARMUP_CALLS - 1):
        pacer.call_resolved(CallOutcome.NO_ANSWER, 20.0, i)
    assert pacer.decide(observe(free=10, talking=(5.0,) * 10)).calls == 10
    assert pacer.decide(observe(free=10, ringing=(1.0,) * 4)).calls == 6


def test_with_estimates_it_dials_ahead_of_free_agents() -> None:
    pacer = trained(person_share=0.2)
    calls = pacer.decide(observe(free=10, talking=(30.0,) * 10)).calls
    # A fifth of the calls are answered: about five calls per free agent keep them busy.
    assert 20 < calls < 80


def test_it_places_no_call_a_person_would_answer_with_no_agent_to_take_it() -> None:
    pacer = trained(person_share=0.2, talk_s=3000.0)
    # Every agent just started a long call: nobody will be free for minutes.
    assert pacer.decide(observe(talking=(1.0,) * 20)).calls == 0


def test_more_calls_in_flight_means_fewer_new_ones() -> None:
    pacer = trained()
    agents = {"free": 5, "talking": (60.0,) * 15}
    counts = [pacer.decide(observe(ringing=(2.0,) * n, **agents)).calls for n in (0, 10, 20, 40)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


def test_agents_logging_out_lower_the_pace_at_once() -> None:
    pacer = trained()
    before = pacer.decide(observe(agents=20, free=6, talking=(60.0,) * 14)).calls
    after = pacer.decide(observe(agents=20, free=2, talking=(60.0,) * 4)).calls
    assert after < before


def test_a_higher_answer_share_means_fewer_calls() -> None:
    agents = {"free": 8, "talking": (60.0,) * 12}
    low = trained(person_share=0.1).decide(observe(**agents)).calls
    high = trained(person_share=0.5).decide(observe(**agents)).calls
    assert high < low


def test_the_marginal_abandon_probability_grows_with_each_call() -> None:
    pacer = trained()
    obs = observe(free=3, talking=(40.0,) * 17, ringing=(3.0,) * 10)
    risks = [pacer.marginal_abandon(obs, k) for k in range(1, 30)]
    assert risks == sorted(risks)
    assert 0 <= risks[0] < risks[-1] <= 1


def test_abandons_lower_the_limit_and_person_answers_raise_it() -> None:
    pacer = trained()
    start = pacer.limit
    pacer.abandoned(1.0)
    assert pacer.limit < start
    for _ in range(100):
        pacer.call_resolved(CallOutcome.PERSON, 8.0, 2.0)
    assert pacer.limit > start * 0.95


def test_the_guard_stops_predicting_once_the_day_reaches_its_target() -> None:
    pacer = trained()
    obs = observe(free=4, talking=(60.0,) * 16)
    unguarded = pacer.decide(obs).calls
    for _ in range(6):  # 6 abandons over 200 person answers: 3%
        pacer.abandoned(1.0)
    assert pacer.limit == LIMIT_MIN
    assert pacer.decide(obs).calls < unguarded
    pacer.start_day(2.0)
    assert pacer.limit == LIMIT_MIN  # no person answered yet today: no room for an abandon
    for _ in range(400):
        pacer.call_resolved(CallOutcome.PERSON, 8.0, 3.0)
    assert pacer.limit > LIMIT_MIN
