"""The pacing benchmark's reference policies, behind the same interface as callhopper's
pacers (:class:`~callhopper.domain.pacing.Pacer`).

Both count *lines* the way VICIdial does: a dial level L keeps ``L * agents`` lines busy,
where a line is a call ringing, a person waiting for an agent, or a call with an agent
(agents wrapping up hold no line; agents away are not counted).
"""

from __future__ import annotations

import math

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing import PacingDecision, PacingObservation


def _calls_for_level(level: float, observation: PacingObservation) -> int:
    agents = observation.agents_available
    lines = len(observation.ringing_s) + observation.waiting + len(observation.talking_s)
    return max(0, math.floor(level * agents + 1e-9) - lines)


class _Counting:
    """The day's person answers and abandons, from the feedback."""

    def __init__(self) -> None:
        self.persons = 0
        self.abandons = 0

    def call_resolved(self, outcome: CallOutcome, ring_s: float, at_s: float) -> None:
        if outcome is CallOutcome.PERSON:
            self.persons += 1

    def talk_ended(self, talk_s: float, at_s: float) -> None:
        """Not used by the reference policies."""

    def wrap_ended(self, wrap_s: float, at_s: float) -> None:
        """Not used by the reference policies."""

    def abandoned(self, at_s: float) -> None:
        self.abandons += 1

    def start_day(self, at_s: float) -> None:
        self.persons = 0
        self.abandons = 0


class FixedLevelPacer(_Counting):
    """A fixed dial level (the benchmark tunes it in hindsight, per workload)."""

    def __init__(self, level: float) -> None:
        super().__init__()
        self.level = level

    def decide(self, observation: PacingObservation) -> PacingDecision:
        return PacingDecision(_calls_for_level(self.level, observation))


class AdaptTaperedPacer(_Counting):
    """A re-implementation of VICIdial's ``ADAPT_TAPERED`` dial method, from its published
    description: every ``interval_s`` the dial level is multiplied by ``1 + (idle agents -
    waiting calls) / agents * intensity`` and kept within [1, ``max_level``]; whenever the
    day's drop rate is above the allowed one the level falls back to 1. *Tapered*: the
    allowed drop rate starts at twice the limit and narrows linearly to the limit at the
    end of the shift (``day_s``), so the rule is lenient early and strict late."""

    def __init__(
        self,
        *,
        limit: float = 0.03,
        intensity: float = 1.0,
        max_level: float = 3.0,
        interval_s: float = 15.0,
        day_s: float = 8 * 3600.0,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.intensity = intensity
        self.max_level = max_level
        self.interval_s = interval_s
        self.day_s = day_s
        self.level = 1.0
        self._day_start = 0.0
        self._adjusted_at: float | None = None

    def start_day(self, at_s: float) -> None:
        super().start_day(at_s)
        self._day_start = at_s
        self._adjusted_at = None
        self.level = 1.0

    def allowed_drop_rate(self, now_s: float) -> float:
        elapsed = min(1.0, max(0.0, (now_s - self._day_start) / self.day_s))
        return self.limit * (2.0 - elapsed)

    def decide(self, observation: PacingObservation) -> PacingDecision:
        now = observation.now_s
        if self._adjusted_at is None or now - self._adjusted_at >= self.interval_s:
            self._adjusted_at = now
            agents = observation.agents_available
            drop_rate = self.abandons / self.persons if self.persons else 0.0
            if drop_rate > self.allowed_drop_rate(now):
                self.level = 1.0
            elif agents:
                spare = observation.agents_free - observation.waiting
                self.level *= 1.0 + spare / agents * self.intensity
                self.level = min(self.max_level, max(1.0, self.level))
        return PacingDecision(_calls_for_level(self.level, observation))
