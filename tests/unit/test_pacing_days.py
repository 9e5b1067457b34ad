"""The predictive pacer over simulated hours (the benchmark's event loop, small sizes): a
cold start without a burst of abandons, and the day's abandon rate under the target."""

from __future__ import annotations

from dataclasses import replace

from bench.pacing_bench import cold_list
from bench.pacing_sim import simulate_day
from callhopper.domain.pacing import (
    PacingDecision,
    PacingObservation,
    PacingTarget,
    PredictivePacer,
)


class Recording(PredictivePacer):
    """The predictive pacer, noting when abandons and person answers happen."""

    def __init__(self) -> None:
        super().__init__(PacingTarget(abandon_rate=0.03, connect_grace_s=2.0))
        self.abandon_times: list[float] = []
        self.most_ahead = 0

    def abandoned(self, at_s: float) -> None:
        self.abandon_times.append(at_s)
        super().abandoned(at_s)

    def decide(self, observation: PacingObservation) -> PacingDecision:
        decision = super().decide(observation)
        ahead = len(observation.ringing_s) + decision.calls - observation.agents_free
        self.most_ahead = max(self.most_ahead, ahead)
        return decision


def test_a_cold_day_starts_without_abandons_and_ends_under_the_target() -> None:
    workload = replace(cold_list(10), day_s=2 * 3600.0)
    pacer = Recording()
    day = simulate_day(workload, pacer, seed=4)
    # Nothing was known at the start: no abandon in the first five minutes, and at most
    # 3% of the person answers of the first half hour (no burst while learning).
    print(sorted(pacer.abandon_times)[:10])
    assert all(t > 300 for t in pacer.abandon_times)
    assert sum(t < 1800 for t in pacer.abandon_times) <= 0.03 * day.persons / 4
    assert day.abandon_rate <= 0.03
    # And it did dial ahead of the free agents once it knew the list.
    assert pacer.most_ahead > 10
    assert day.occupancy > 0.7


def test_a_rising_answer_share_is_followed_within_the_target() -> None:
    """The person share doubles over two hours, from 15% to 30% (a better list comes in):
    the estimates follow and the day stays under the target."""
    workload = replace(cold_list(10), day_s=2 * 3600.0, drift=(0.15, 0.30))
    pacer = Recording()
    day = simulate_day(workload, pacer, seed=6)
    assert day.abandon_rate <= 0.03
    assert pacer.ring.person_share > 0.22
