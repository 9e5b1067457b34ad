"""The predictive pacer: as many calls as keep agents busy while the day's abandon rate
stays under the campaign's target.

For each candidate new call, the pacer estimates the probability that a person answers it
at a moment when no agent will be free within the connect grace: from the calls already in
flight (how likely each is to be answered by a person, and when, given how long it has
rung), the answered persons already waiting, and the agents (free now, or freed when their
call and wrap-up end, given how long they have lasted). It weighs that risk against what
the call adds: the probability that its person is taken by an agent free now or within
the lead (agents freed later can be served by calls placed later, without the risk). It
places calls while the risk stays under a limit times what they add; a controller on the
day's running counts moves the limit so that the day ends under the target. Until it has seen
enough calls it dials progressively (one call per free agent), so a day without estimates
starts without abandons. ``docs/adr/0006-predictive-pacing.md`` explains the choices.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing.estimates import HandleModel, RingModel
from callhopper.domain.pacing.model import PacingDecision, PacingObservation, PacingTarget

#: Dial progressively until this many calls have resolved and this many talks and wrap-ups
#: ended (the estimates are too rough before).
WARMUP_CALLS = 40
WARMUP_HANDLES = 5
#: How often the estimate tables are rebuilt (seconds of the observations' clock).
REFRESH_S = 30.0
#: Points of the time grid over which a new call's answer is spread.
GRID_POINTS = 12
#: The grid reaches the ring time by which this share of person answers happen.
HORIZON_QUANTILE = 0.99
#: A new call is worth placing now for the agents free by the ring time by which this
#: share of person answers happen (plus the grace): agents freed later can be served by
#: calls placed later.
LEAD_QUANTILE = 0.1
#: The controller: it aims at this fraction of the target, and steers the limit on the
#: marginal abandon probability (per useful person answer) between these bounds, starting
#: here (near where it settles: a start far above it costs the day's first hours).
SETPOINT_SHARE = 0.85
LIMIT_MIN = 0.002
LIMIT_MAX = 0.8
LIMIT_START = 0.03
#: How far one abandon lowers the limit (on a log scale); a person answer raises it by
#: this times the setpoint, so that the limit settles where abandons run at the setpoint.
GAIN = 0.08
#: The day's guard: once the abandons reach this fraction of the target of the person
#: answers so far, only calls that can hardly abandon are placed.
GUARD_SHARE = 0.95
#: ... and while this many more abandons would: a margin for the calls in flight whose
#: outcome the estimates get wrong (it matters on small campaigns and short days).
GUARD_ABANDONS = 3
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
        self._guarding = False
        self._refreshed_at: float | None = None
        self._grid: _Grid | None = None
        self._ring_curves: dict[tuple[int, int], list[float]] = {}
        self._talk_curves: dict[tuple[int, int], list[float]] = {}
        self._wrap_curves: dict[tuple[int, int], list[float]] = {}

    # Feedback ------------------------------------------------------------------------------

    def call_resolved(self, outcome: CallOutcome, ring_s: float, at_s: float) -> None:
        self.ring.add(outcome, ring_s)
        if outcome is CallOutcome.PERSON:
            self.persons_today += 1
            if not self._guarding:
                self._steer(GAIN * SETPOINT_SHARE * self.target.abandon_rate)

    def talk_ended(self, talk_s: float, at_s: float) -> None:
        self.handle.add_talk(talk_s, at_s)

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
        """The highest marginal abandon probability, per person answer, accepted now (before
        the guard, which :meth:`decide` applies)."""
        return math.exp(self._log_limit)

    def guarded(self, pending_persons: float, pending_abandons: float) -> bool:
        """Whether a couple more abandons would take the day above the guard's share of the
        target, counting the person answers and abandons expected of the calls in flight."""
        persons = self.persons_today + pending_persons
        abandons = self.abandons_today + pending_abandons
        return abandons + GUARD_ABANDONS > GUARD_SHARE * self.target.abandon_rate * persons

    def decide(self, observation: PacingObservation) -> PacingDecision:
        spare = observation.agents_free - len(observation.ringing_s) - observation.waiting
        progressive = max(0, spare)
        if observation.agents_available == 0 or not self.warmed_up:
            return PacingDecision(progressive)
        self._refresh(observation)
        balance = self._balance(observation)
        pending_persons = balance.arrivals - observation.waiting
        self._guarding = self.guarded(pending_persons, balance.pending)
        limit = LIMIT_MIN if self._guarding else self.limit
        calls = balance.most_calls(limit)
        cap = math.ceil(2 * observation.agents_available / max(0.01, self.ring.person_share))
        return PacingDecision(max(progressive, min(calls, cap)))

    def in_flight_outlook(self, observation: PacingObservation) -> tuple[float, float]:
        """The person answers, then the abandons, expected of the calls in flight and the
        persons waiting (for tests and reports)."""
        self._refresh(observation)
        balance = self._balance(observation)
        return balance.arrivals, balance.pending

    def marginal_abandon(self, observation: PacingObservation, k: int) -> float:
        """The probability that the ``k``-th new call placed now is answered by a person who
        finds no agent within the grace (for tests and for reports)."""
        return self.marginal_outlook(observation, k)[0]

    def marginal_outlook(self, observation: PacingObservation, k: int) -> tuple[float, float]:
        """For the ``k``-th new call placed now: the probability that it is answered by a
        person who finds no agent within the grace, and the probability that it is
        answered by a person whom an agent free within the lead takes (for tests and for
        reports)."""
        self._refresh(observation)
        return self._balance(observation).outlook(k)

    def _refresh(self, observation: PacingObservation) -> None:
        now_s = observation.now_s
        if self._refreshed_at is not None and now_s - self._refreshed_at < REFRESH_S:
            return
        self._refreshed_at = now_s
        self.handle.refresh(now_s, observation.talking_s)
        self.ring.refresh()
        self._ring_curves.clear()
        self._talk_curves.clear()
        self._wrap_curves.clear()
        # No person answers after the ring timeout: the grid ends there at the latest.
        quantile = self.ring.person_quantile(HORIZON_QUANTILE)
        horizon = max(4.0, min(quantile, self.target.ring_timeout_s))
        step = horizon / GRID_POINTS
        edges = [step * j for j in range(GRID_POINTS + 1)]
        mids = [step * (j + 0.5) for j in range(GRID_POINTS)]
        new_by_edge = self.ring.answered_by(0.0, edges)
        masses = [new_by_edge[j + 1] - new_by_edge[j] for j in range(GRID_POINTS)]
        # Person answers later than the horizon are counted at its end.
        masses[-1] += max(0.0, self.ring.person_share - new_by_edge[-1])
        new_by_mid = self.ring.answered_by(0.0, mids)
        grace = self.target.connect_grace_s
        lead = min(self.ring.person_quantile(LEAD_QUANTILE), horizon) + grace
        self._grid = _Grid(mids, [t + grace for t in mids] + [lead], masses, new_by_mid)

    def _balance(self, observation: PacingObservation) -> _Balance:
        grid = self._grid
        assert grid is not None
        n = len(grid.mids)
        arrivals = _column_sums(
            [float(observation.waiting)] * n + [0.0] * n,
            _weighted(
                observation.ringing_s,
                _RING_BUCKETS,
                self._ring_curves,
                lambda e: self.ring.answered_by(e, grid.mids),
            ),
        )
        handle = self.handle
        busy = _weighted(
            observation.talking_s,
            _TALK_BUCKETS,
            self._talk_curves,
            lambda e: handle.free_by_after_talk(e, grid.supply_points),
        )
        busy += _weighted(
            observation.wrapping_s,
            _WRAP_BUCKETS,
            self._wrap_curves,
            lambda e: handle.free_by_after_wrap(e, grid.supply_points),
        )
        supply = _column_sums([float(observation.agents_free)] * (n + 1) + [0.0] * (n + 1), busy)
        margin = [s - a for s, a in zip(supply[:n], arrivals[:n], strict=True)]
        variance = [s + a for s, a in zip(supply[n + 1 : 2 * n + 1], arrivals[n:], strict=True)]
        early = [supply[n] - a for a in arrivals[:n]]
        early_variance = [supply[2 * n + 1] + a for a in arrivals[n:]]
        return _Balance(grid, margin, variance, arrivals[:n], early, early_variance)


def _weighted(
    elapsed: Sequence[float],
    buckets: _Buckets,
    memo: dict[tuple[int, int], list[float]],
    curve: Callable[[float], list[float]],
) -> list[list[float]]:
    """The Bernoulli counts of many calls or agents, one row per bucket of their elapsed
    times (in the order the buckets first appear): the bucket's probabilities then their
    variances, times the calls or agents in it. Rows are memoised until the next refresh
    by bucket and count (a decision differs from the previous one in a few buckets)."""
    rows = []
    for k, count in buckets.count(elapsed).items():
        row = memo.get((k, count))
        if row is None:
            single = memo.get((k, 1))
            if single is None:
                probabilities = curve(buckets.middle(k))
                single = probabilities + [p * (1.0 - p) for p in probabilities]
                memo[(k, 1)] = single
            row = single if count == 1 else [x * count for x in single]
            memo[(k, count)] = row
        rows.append(row)
    return rows


def _column_sums(totals: list[float], rows: list[list[float]]) -> list[float]:
    """``totals`` plus the ``rows``, added one row after the other in each column (summed
    column by column: the same floating-point sums as row after row, faster)."""
    if not rows:
        return totals
    out = []
    for total, column in zip(totals, zip(*rows, strict=True), strict=True):
        for x in column:
            total += x
        out.append(total)
    return out


class _Buckets:
    """Elapsed times grouped in buckets that widen as they grow (what remains of a long
    call or ring changes slowly), counted through a lookup table for speed."""

    def __init__(self, widths: Sequence[tuple[float, int]], table_s: int) -> None:
        #: (below this many seconds, buckets this wide), in increasing order.
        self._widths = list(widths)
        self._table = [self._bucket(float(x)) for x in range(table_s)]

    def _bucket(self, elapsed_s: float) -> int:
        for below, width in self._widths:
            if elapsed_s < below:
                return int(elapsed_s / width) * width
        width = self._widths[-1][1]
        return int(elapsed_s / width) * width

    def middle(self, bucket: int) -> float:
        for below, width in self._widths:
            if bucket < below:
                return bucket + width / 2
        return bucket + self._widths[-1][1] / 2

    def count(self, elapsed: Sequence[float]) -> Counter[int]:
        try:
            return Counter(map(self._table.__getitem__, map(int, elapsed)))
        except IndexError:  # an elapsed time beyond the table: rare, take the slow way
            return Counter(map(self._bucket, elapsed))


#: Calls: 1-s buckets for 20 s, then 4-s ones up to a minute, then 15-s ones.
_RING_BUCKETS = _Buckets([(20.0, 1), (60.0, 4), (math.inf, 15)], table_s=900)
#: Agents' talk: 4-s buckets for two minutes, 15-s ones up to ten, then minutes.
_TALK_BUCKETS = _Buckets([(120.0, 4), (600.0, 15), (math.inf, 60)], table_s=4 * 3600)
#: Agents' wrap-up: 1-s buckets.
_WRAP_BUCKETS = _Buckets([(math.inf, 1)], table_s=3600)


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

    __slots__ = ("arrivals", "pending", "terms")

    def __init__(
        self,
        grid: _Grid,
        margin: list[float],
        variance: list[float],
        arrivals: list[float],
        early: list[float],
        early_variance: list[float],
    ) -> None:
        #: Per grid point with some answers: half the probability that a new call's person
        #: answer falls there, P(a new call is answered before it) and its complement, the
        #: expected agents freed by its grace end less the persons answered by it, and that
        #: difference's variance; then one half less the same difference counting only the
        #: agents free within the lead, and its variance (the parts of :meth:`outlook`'s
        #: sums that do not depend on k, computed once).
        self.terms = [
            (mass * 0.5, q, 1.0 - q, m, v, 0.5 - e, ev)
            for mass, q, m, v, e, ev in zip(
                grid.masses,
                grid.new_by_mid,
                margin,
                variance,
                early,
                early_variance,
                strict=True,
            )
            if mass > 1e-6
        ]
        #: Persons expected to have answered by the grid's end (waiting ones included).
        self.arrivals = arrivals[-1]
        #: Abandons expected among them: those answering at a point where the agents freed
        #: by its grace end are fewer than the persons answered by then, itself included.
        pending = 0.0
        before = 0.0
        for answered, m, v in zip(arrivals, margin, variance, strict=True):
            sigma = max(_MIN_SIGMA, math.sqrt(v))
            pending += (answered - before) * 0.5 * math.erfc((m + 0.5) / (sigma * _SQRT2))
            before = answered
        self.pending = pending

    def outlook(self, k: int) -> tuple[float, float]:
        """For the k-th new call (with ``k - 1`` others placed with it): P(it is answered by
        a person who finds no agent in time), and P(it is answered by a person whom an
        agent free within the lead takes: an agent that only a call placed now can serve)."""
        others = k - 1
        abandon = 0.0
        useful = 0.0
        erfc = math.erfc
        sqrt = math.sqrt
        for half_mass, q, not_q, margin, variance, half_less_early, early_variance in self.terms:
            shift = others * q
            spread = shift * not_q
            sigma = sqrt(variance + spread)
            if sigma < _MIN_SIGMA:
                sigma = _MIN_SIGMA
            # P(margin <= 0) for an integer margin, with a continuity correction.
            abandon += half_mass * erfc((margin - shift - 0.5) / (sigma * _SQRT2))
            sigma = sqrt(early_variance + spread)
            if sigma < _MIN_SIGMA:
                sigma = _MIN_SIGMA
            # P(early margin >= 1).
            useful += half_mass * erfc((half_less_early + shift) / (sigma * _SQRT2))
        return abandon, useful

    def acceptable(self, k: int, limit: float) -> bool:
        abandon, useful = self.outlook(k)
        return abandon <= limit * useful

    def most_calls(self, limit: float) -> int:
        """The largest k whose marginal abandon probability is within ``limit`` times its
        probability of serving an agent free within the lead."""
        if not self.acceptable(1, limit):
            return 0
        low, high = 1, 2
        while self.acceptable(high, limit):
            low, high = high, high * 2
            if high > 100_000:
                return low
        while high - low > 1:
            mid = (low + high) // 2
            if self.acceptable(mid, limit):
                low = mid
            else:
                high = mid
        return low
