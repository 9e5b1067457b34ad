"""The predictive pacer: as many calls as keep agents busy while the day's abandon rate
stays under the campaign's target.

For each candidate new call, the pacer estimates the probability that a person answers it
at a moment when no agent will be free within the connect grace: from the calls already in
flight (how likely each is to be answered by a person, and when, given how long it has
rung), the answered persons already waiting, and the agents (free now, or freed when their
call and wrap-up end, given how long they have lasted). It places calls while that marginal
abandon probability, per person answer, stays under a limit; a controller on the day's
running counts moves the limit so that the day ends under the target. Until it has seen
enough calls it dials progressively (one call per free agent), so a day without estimates
starts without abandons. ``docs/adr/0006-predictive-pacing.md`` explains the choices.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing.estimates import HandleModel, RingModel
from callhopper.domain.pacing.model import PacingDecision, PacingObservation, PacingTarget

#: Dial progressively until this many calls have resolved and this many talks and wrap-ups
#: ended (the estimates are too rough before).
WARMUP_CALLS = 40
WARMUP_HANDLES = 5
#: How often the estimate tables are rebuilt (seconds of the observations' clock).
REFRESH_S = 15.0
#: Points of the time grid over which a new call's answer is spread.
GRID_POINTS = 16
#: The grid reaches the ring time by which this share of person answers happen.
HORIZON_QUANTILE = 0.99
#: The controller: it aims at this fraction of the target, and steers the limit on the
#: marginal abandon probability (per person answer) between these bounds, starting here.
SETPOINT_SHARE = 0.8
LIMIT_MIN = 0.002
LIMIT_MAX = 0.8
LIMIT_START = 0.1
#: How far one abandon lowers the limit (on a log scale); a person answer raises it by
#: this times the setpoint, so that the limit settles where abandons run at the setpoint.
GAIN = 0.08
#: The day's guard: once the abandons reach this fraction of the target of the person
#: answers so far, only calls that can hardly abandon are placed.
GUARD_SHARE = 0.9
#: A sum of Bernoulli counts is read as a normal law with at least this deviation.
_MIN_SIGMA = 0.15
_SQRT2 = math.sqrt(2.0)


class PredictivePacer:
    """The predictive pacer (see the module's description). One instance paces one campaign;
    it keeps its estimates from day to day."""

    def __init__(self, target: PacingTarget | None = None) -> None:
        self.target = target or PacingTarget()
        self.ring = RingModel()
        self.handle = HandleModel()
        self.persons_today = 0
        self.abandons_today = 0
        self._log_limit = math.log(LIMIT_START)
        self._refreshed_at: float | None = None
        self._grid: _Grid | None = None
        self._ring_curves: dict[int, tuple[list[float], list[float]]] = {}
        self._talk_curves: dict[int, tuple[list[float], list[float]]] = {}
        self._wrap_curves: dict[int, tuple[list[float], list[float]]] = {}

    # Feedback ------------------------------------------------------------------------------

    def call_resolved(self, outcome: CallOutcome, ring_s: float, at_s: float) -> None:
        self.ring.add(outcome, ring_s)
        if outcome is CallOutcome.PERSON:
            self.persons_today += 1
            self._steer(GAIN * SETPOINT_SHARE * self.target.abandon_rate)

    def talk_ended(self, talk_s: float, at_s: float) -> None:
        self.handle.add_talk(talk_s)

    def wrap_ended(self, wrap_s: float, at_s: float) -> None:
        self.handle.add_wrap(wrap_s)

    def abandoned(self, at_s: float) -> None:
        self.abandons_today += 1
        self._steer(-GAIN)

    def start_day(self, at_s: float) -> None:
        self.persons_today = 0
        self.abandons_today = 0

    def _steer(self, step: float) -> None:
        self._log_limit = min(math.log(LIMIT_MAX), max(math.log(LIMIT_MIN), self._log_limit + step))

    # Deciding ------------------------------------------------------------------------------

    @property
    def warmed_up(self) -> bool:
        """Whether the estimates are good enough to dial more than progressively."""
        handles = min(self.handle.talks, self.handle.wraps)
        return self.ring.resolved >= WARMUP_CALLS and handles >= WARMUP_HANDLES

    @property
    def limit(self) -> float:
        """The highest marginal abandon probability, per person answer, accepted now."""
        headroom = GUARD_SHARE * self.target.abandon_rate * self.persons_today
        if self.abandons_today + 1 > headroom:
            return LIMIT_MIN
        return math.exp(self._log_limit)

    def decide(self, observation: PacingObservation) -> PacingDecision:
        spare = observation.agents_free - len(observation.ringing_s) - observation.waiting
        progressive = max(0, spare)
        if observation.agents_available == 0 or not self.warmed_up:
            return PacingDecision(progressive)
        self._refresh(observation.now_s)
        balance = self._balance(observation)
        calls = balance.most_calls(self.limit * self.ring.person_share)
        cap = math.ceil(2 * observation.agents_available / max(0.01, self.ring.person_share))
        return PacingDecision(max(progressive, min(calls, cap)))

    def marginal_abandon(self, observation: PacingObservation, k: int) -> float:
        """The probability that the ``k``-th new call placed now is answered by a person who
        finds no agent within the grace (for tests and for reports)."""
        self._refresh(observation.now_s)
        return self._balance(observation).marginal(k)

    def _refresh(self, now_s: float) -> None:
        if self._refreshed_at is not None and now_s - self._refreshed_at < REFRESH_S:
            return
        self._refreshed_at = now_s
        self.handle.refresh()
        self._ring_curves.clear()
        self._talk_curves.clear()
        self._wrap_curves.clear()
        horizon = max(4.0, self.ring.person_quantile(HORIZON_QUANTILE))
        step = horizon / GRID_POINTS
        edges = [step * j for j in range(GRID_POINTS + 1)]
        mids = [step * (j + 0.5) for j in range(GRID_POINTS)]
        new_by_edge = self.ring.answered_by(0.0, edges)
        masses = [new_by_edge[j + 1] - new_by_edge[j] for j in range(GRID_POINTS)]
        # Person answers later than the horizon are counted at its end.
        masses[-1] += max(0.0, self.ring.person_share - new_by_edge[-1])
        new_by_mid = self.ring.answered_by(0.0, mids)
        grace = self.target.connect_grace_s
        self._grid = _Grid(mids, [t + grace for t in mids], masses, new_by_mid)

    def _balance(self, observation: PacingObservation) -> _Balance:
        grid = self._grid
        assert grid is not None
        n = len(grid.mids)
        arrivals = [float(observation.waiting)] * n
        arrivals_var = [0.0] * n
        _accumulate(
            arrivals,
            arrivals_var,
            observation.ringing_s,
            int,
            self._ring_curves,
            lambda e: self.ring.answered_by(float(e), grid.mids),
        )
        supply = [float(observation.agents_free)] * n
        supply_var = [0.0] * n
        _accumulate(
            supply,
            supply_var,
            observation.talking_s,
            _bucket,
            self._talk_curves,
            lambda e: self.handle.free_by_after_talk(_bucket_mid(e), grid.supply_points),
        )
        _accumulate(
            supply,
            supply_var,
            observation.wrapping_s,
            int,
            self._wrap_curves,
            lambda e: self.handle.free_by_after_wrap(e + 0.5, grid.supply_points),
        )
        margin = [s - a for s, a in zip(supply, arrivals, strict=True)]
        variance = [s + a for s, a in zip(supply_var, arrivals_var, strict=True)]
        return _Balance(grid, margin, variance)


def _accumulate(
    mean: list[float],
    variance: list[float],
    elapsed: Iterable[float],
    key: Callable[[float], int],
    memo: dict[int, tuple[list[float], list[float]]],
    curve: Callable[[int], list[float]],
) -> None:
    """Add to ``mean`` and ``variance`` the Bernoulli counts of many calls or agents, grouped
    by a key of their elapsed time (the curves are memoised per key until the next refresh)."""
    for k, count in Counter(map(key, elapsed)).items():
        cached = memo.get(k)
        if cached is None:
            probabilities = curve(k)
            cached = (probabilities, [p * (1.0 - p) for p in probabilities])
            memo[k] = cached
        probabilities, spread = cached
        for j, p in enumerate(probabilities):
            mean[j] += count * p
            variance[j] += count * spread[j]


def _bucket(elapsed_s: float) -> int:
    """Talk durations grouped coarser as they grow (the remaining time changes slowly)."""
    if elapsed_s < 60:
        return int(elapsed_s / 2) * 2
    if elapsed_s < 600:
        return int(elapsed_s / 10) * 10
    return int(elapsed_s / 60) * 60


def _bucket_mid(bucket: int) -> float:
    width = 2 if bucket < 60 else 10 if bucket < 600 else 60
    return bucket + width / 2


class _Grid:
    """The time grid of one refresh: where new calls' person answers fall."""

    __slots__ = ("masses", "mids", "new_by_mid", "supply_points")

    def __init__(
        self,
        mids: Sequence[float],
        supply_points: Sequence[float],
        masses: Sequence[float],
        new_by_mid: Sequence[float],
    ) -> None:
        #: Middles of the grid's intervals (seconds from now).
        self.mids = list(mids)
        #: The middles plus the connect grace: when an agent must be free at the latest.
        self.supply_points = list(supply_points)
        #: P(a new call is answered by a person within each interval).
        self.masses = list(masses)
        #: P(a new call is answered by a person before each middle).
        self.new_by_mid = list(new_by_mid)


class _Balance:
    """Agents against answered persons over the grid, for the calls in flight now."""

    __slots__ = ("grid", "margin", "variance")

    def __init__(self, grid: _Grid, margin: list[float], variance: list[float]) -> None:
        self.grid = grid
        #: Expected agents freed by each point's grace end, less persons answered by it.
        self.margin = margin
        self.variance = variance

    def marginal(self, k: int) -> float:
        """P(the k-th new call is answered by a person and finds no agent in time), with
        ``k - 1`` other new calls placed with it."""
        others = k - 1
        total = 0.0
        grid = self.grid
        for j, mass in enumerate(grid.masses):
            if mass <= 0.0:
                continue
            q = grid.new_by_mid[j]
            mu = self.margin[j] - others * q
            sigma = max(_MIN_SIGMA, math.sqrt(self.variance[j] + others * q * (1.0 - q)))
            # P(margin <= 0) for an integer margin, with a continuity correction.
            total += mass * 0.5 * math.erfc((mu - 0.5) / (sigma * _SQRT2))
        return total

    def most_calls(self, budget: float) -> int:
        """The largest k whose marginal abandon probability is within ``budget``."""
        if self.marginal(1) > budget:
            return 0
        low, high = 1, 2
        while self.marginal(high) <= budget:
            low, high = high, high * 2
            if high > 100_000:
                return low
        while high - low > 1:
            mid = (low + high) // 2
            if self.marginal(mid) <= budget:
                low = mid
            else:
                high = mid
        return low
