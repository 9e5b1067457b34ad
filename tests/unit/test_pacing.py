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
from callhopper.domain.pacing.predictive import LIMIT_MAX, WARMUP_CALLS


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
    # More calls than free agents (progressive dialing would place 10): with the day's
    # answers, the pacer estimates that about half the calls are answered by a person.
    assert 0.45 < pacer.ring.person_share < 0.65
    assert 12 < calls < 80


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
    assert not pacer.guarded(0.0, 0.0)
    for _ in range(6):  # 6 abandons over 200 person answers: 3%
        pacer.abandoned(1.0)
    assert pacer.guarded(0.0, 0.0)
    assert pacer.decide(obs).calls < unguarded
    pacer.start_day(2.0)
    assert pacer.guarded(0.0, 0.0)  # no person answered yet today: no room for an abandon
    for _ in range(400):
        pacer.call_resolved(CallOutcome.PERSON, 8.0, 3.0)
    assert not pacer.guarded(0.0, 0.0)
    # Abandons expected of the calls in flight count against the day's room.
    assert pacer.guarded(10.0, 10.0)


def test_calls_in_flight_with_no_agent_for_them_are_expected_to_abandon() -> None:
    pacer = trained(talk_s=3000.0)
    busy = observe(talking=(1.0,) * 20, ringing=(2.0,) * 40)
    persons, abandons = pacer.in_flight_outlook(busy)
    # Forty calls and nobody free for minutes: every person who answers will be abandoned.
    assert 5 < persons < 40
    assert 0.9 * persons < abandons <= persons
    persons, abandons = pacer.in_flight_outlook(observe(free=20, ringing=(2.0,) * 10))
    assert 3 < persons and abandons < 0.1


def spread_out(person_share: float = 0.2) -> PredictivePacer:
    """A pacer whose limit is at its highest (a day far under way with no abandon), whose
    recent person answers came at any time from 1 to 60 s (so a call placed now may be
    answered long after an agent frees), with talks of 120 s and 10-s wrap-ups."""
    pacer = PredictivePacer()
    pacer.start_day(0.0)
    every = round(1 / person_share)
    for i in range(10_000):
        outcome = CallOutcome.PERSON if i % every == 0 else CallOutcome.NO_ANSWER
        pacer.call_resolved(outcome, 30.0, 0.0)
    for i in range(1000):  # the recent calls: the histograms forget the older ones
        ring = 1.0 + (i // every) % 60
        outcome = CallOutcome.PERSON if i % every == 0 else CallOutcome.NO_ANSWER
        pacer.call_resolved(outcome, ring if outcome is CallOutcome.PERSON else 20.0, i)
    for i in range(50):
        pacer.talk_ended(120.0, i)
        pacer.wrap_ended(10.0, i)
    assert pacer.limit == pytest.approx(LIMIT_MAX)
    return pacer


def test_calls_are_placed_for_agents_free_within_the_lead_not_for_later_ones() -> None:
    pacer = spread_out()
    # Every agent is free in 16 to 25 s: a call placed now is likely answered after one of
    # them is free, but a call placed when they are free serves them as well, without the
    # risk of being answered before. The pacer waits, even at its most lenient, where a
    # rule on the abandon probability alone (under the limit per person answer) would dial.
    later = observe(talking=tuple(105.0 + i % 10 for i in range(20)))
    abandon, useful = pacer.marginal_outlook(later, 1)
    assert abandon < LIMIT_MAX * pacer.ring.person_share
    assert useful < 0.01
    assert pacer.decide(later).calls == 0
    # Five agents free now: calls are placed for them, with a person answer likely useful.
    now = observe(free=5, talking=tuple(95.0 + i % 10 for i in range(15)))
    abandon, useful = pacer.marginal_outlook(now, 1)
    assert useful > 0.9 * pacer.ring.person_share
    assert pacer.decide(now).calls > 5


def test_person_answers_do_not_raise_the_limit_while_the_guard_holds() -> None:
    pacer = trained()
    obs = observe(free=4, talking=(60.0,) * 16)
    for _ in range(6):  # 6 abandons over 200 person answers: the guard holds
        pacer.abandoned(1.0)
    pacer.decide(obs)
    held = pacer.limit
    for _ in range(10):
        pacer.call_resolved(CallOutcome.PERSON, 8.0, 2.0)
    # The limit did not wind up while the guard held (it would overshoot once released).
    assert pacer.limit == held
    free = trained()
    free.decide(obs)
    before = free.limit
    for _ in range(10):
        free.call_resolved(CallOutcome.PERSON, 8.0, 2.0)
    assert free.limit > before


def test_the_talks_still_going_on_count_in_the_talk_time() -> None:
    pacer = PredictivePacer()
    pacer.start_day(0.0)
    for i in range(WARMUP_CALLS):
        outcome = CallOutcome.PERSON if i % 4 == 0 else CallOutcome.NO_ANSWER
        pacer.call_resolved(outcome, 10.0, 10.0)
    for i in range(1, 6):  # of 40 calls bridged at 10 s, the 5 shortest ended first
        pacer.talk_ended(10.0 * i, 10.0 + 10.0 * i)
        pacer.wrap_ended(0.0, 10.0 + 10.0 * i)
    # A minute in, the 35 others still go on: read alone, the 5 ended talks (30 s on
    # average) would say that these agents are about to be free; with them, they are not.
    calls = pacer.decide(observe(now=70.0, agents=40, free=5, talking=(60.0,) * 35)).calls
    assert pacer.handle.mean_talk_s == pytest.approx((150.0 + 35 * 60.0) / 5)
    assert calls <= 6
