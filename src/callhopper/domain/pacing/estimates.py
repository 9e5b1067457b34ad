"""Running estimates a predictive pacer keeps: how calls resolve, and how long agents stay
busy.

Both forget the past geometrically (recent observations weigh more), so that the
estimates follow a list whose answer rate drifts during the day; both start from
conservative priors, which the first observations quickly outweigh.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

from callhopper.domain.calls import CallOutcome

#: Ring times are counted in bins of this width (seconds) up to :data:`RING_BINS` bins; a
#: longer ring time falls in the last bin.
RING_BIN_S = 1.0
RING_BINS = 180
#: The weight of one observation halves after this many newer calls resolve.
RING_HALF_LIFE_CALLS = 250.0
#: The prior: as many pseudo-calls as this, answered by a person with this share (high, so
#: that a pacer without data expects many answers and places few calls), spread evenly
#: over the first :data:`PRIOR_RING_SPREAD_S` seconds.
PRIOR_CALLS = 20.0
PRIOR_PERSON_SHARE = 0.5
PRIOR_RING_SPREAD_S = 30.0
_RENORMALISE_ABOVE = 1e150

#: Talk and wrap-up times remembered (the most recent ones).
HANDLE_SAMPLES = 600
#: Pseudo-samples of an exponential tail, with the talks' mean, mixed into the talk-time
#: survival: it covers agents on calls longer than any remembered, and few samples.
TALK_TAIL_WEIGHT = 3.0
#: Wrap-up times are summarised by these quantiles.
WRAP_QUANTILES = (0.1, 0.5, 0.9)


class RingModel:
    """How calls resolve: the joint distribution of (answered by a person or not, time from
    placing the call to its resolution), as exponentially weighted histograms."""

    def __init__(self) -> None:
        self._person = [0.0] * RING_BINS
        self._other = [0.0] * RING_BINS
        self._weight = 1.0
        self._growth = 2.0 ** (1.0 / RING_HALF_LIFE_CALLS)
        self.resolved = 0
        prior_bins = max(1, int(PRIOR_RING_SPREAD_S / RING_BIN_S))
        for b in range(prior_bins):
            self._person[b] += PRIOR_CALLS * PRIOR_PERSON_SHARE / prior_bins
            self._other[b] += PRIOR_CALLS * (1 - PRIOR_PERSON_SHARE) / prior_bins
        self._tables: tuple[list[float], list[float]] | None = None

    def add(self, outcome: CallOutcome, ring_s: float) -> None:
        """Count one resolved call."""
        b = min(RING_BINS - 1, max(0, int(ring_s / RING_BIN_S)))
        self._weight *= self._growth
        if outcome is CallOutcome.PERSON:
            self._person[b] += self._weight
        else:
            self._other[b] += self._weight
        self.resolved += 1
        if self._weight > _RENORMALISE_ABOVE:
            scale = 1.0 / self._weight
            self._person = [w * scale for w in self._person]
            self._other = [w * scale for w in self._other]
            self._weight = 1.0

    def refresh(self) -> None:
        """Rebuild the tables from the calls counted so far (a pacer does it every few
        seconds rather than at every call)."""
        self._tables = None

    def _cumulative(self) -> tuple[list[float], list[float]]:
        """Person weight and total weight below each bin edge (``RING_BINS + 1`` edges)."""
        if self._tables is None:
            person = [0.0]
            total = [0.0]
            for p, o in zip(self._person, self._other, strict=True):
                person.append(person[-1] + p)
                total.append(total[-1] + p + o)
            self._tables = (person, total)
        return self._tables

    @property
    def person_share(self) -> float:
        """The estimated share of calls a person answers."""
        person, total = self._cumulative()
        return person[-1] / total[-1]

    def person_quantile(self, q: float) -> float:
        """The ring time (seconds) by which a share ``q`` of the person answers happen."""
        person, _ = self._cumulative()
        goal = q * person[-1]
        i = bisect.bisect_left(person, goal)
        return min(RING_BINS, i) * RING_BIN_S

    def answered_by(self, elapsed_s: float, points_s: Sequence[float]) -> list[float]:
        """For a call placed ``elapsed_s`` seconds ago and not resolved yet, the probability
        that a person has answered it by ``elapsed_s + x``, for each ``x`` in ``points_s``."""
        person, total = self._cumulative()
        alive = total[-1] - _interpolate(total, elapsed_s / RING_BIN_S)
        if alive <= total[-1] * 1e-9:
            return [0.0] * len(points_s)
        base = _interpolate(person, elapsed_s / RING_BIN_S)
        return [
            (_interpolate(person, (elapsed_s + x) / RING_BIN_S) - base) / alive for x in points_s
        ]


def _interpolate(cumulative: list[float], position: float) -> float:
    """A cumulative histogram read between its edges, linearly within a bin."""
    if position <= 0:
        return 0.0
    i = int(position)
    if i >= len(cumulative) - 1:
        return cumulative[-1]
    return cumulative[i] + (position - i) * (cumulative[i + 1] - cumulative[i])


class HandleModel:
    """How long agents stay busy: talk and wrap-up time distributions from the most recent
    calls (the talks still going on counted too, as lasting at least as long as so far),
    with a conservative prior for the first ones."""

    def __init__(self, *, prior_talk_s: float = 300.0, prior_wrap_s: float = 30.0) -> None:
        #: (when it ended, how long it lasted) for the most recent talks.
        self._talks: deque[tuple[float, float]] = deque(maxlen=HANDLE_SAMPLES)
        self._wraps: deque[float] = deque(maxlen=HANDLE_SAMPLES)
        self._wraps_sorted: list[float] = []
        self._prior_talk_s = prior_talk_s
        self._prior_wrap_s = prior_wrap_s
        self._now_s = 0.0
        self._talking_s: tuple[float, ...] = ()
        self._talk_table: _TalkTable | None = None
        self._wrap_points: tuple[float, ...] | None = None

    @property
    def talks(self) -> int:
        return len(self._talks)

    @property
    def wraps(self) -> int:
        return len(self._wraps)

    def add_talk(self, talk_s: float, at_s: float) -> None:
        """Remember one talk time, ended at ``at_s``; the tables follow at the next
        :meth:`refresh`."""
        self._talks.append((at_s, max(0.0, talk_s)))

    def add_wrap(self, wrap_s: float) -> None:
        """Remember one wrap-up time; the tables follow at the next :meth:`refresh`."""
        _remember(self._wraps, self._wraps_sorted, max(0.0, wrap_s))

    def refresh(self, now_s: float = 0.0, talking_s: Sequence[float] = ()) -> None:
        """Rebuild the tables from the samples remembered so far and the talks still going
        on at ``now_s`` (``talking_s``: how long each has lasted). The tables are costly: a
        pacer refreshes them every few seconds, not at every sample."""
        self._now_s = now_s
        self._talking_s = tuple(talking_s)
        self._talk_table = None
        self._wrap_points = None

    def _talks_now(self) -> _TalkTable:
        """The talk-time survival of the calls bridged since the oldest talk remembered
        ended (all calls, while none was forgotten), the ones still going on included as
        censored at their length so far (Kaplan-Meier). Counting only the talks that have
        ended would undercount long ones whenever calls started recently: at the start of a
        day the first talks to end are the shortest, and a pacer reading them as the talk
        time expects agents free far sooner than they are."""
        if self._talk_table is None:
            talks = self._talks
            since = talks[0][0] if len(talks) == talks.maxlen else -math.inf
            ended = sorted(talk for end, talk in talks if end - talk >= since)
            going = sorted(s for s in self._talking_s if self._now_s - s >= since)
            times: list[float] = []
            survival: list[float] = []
            s = 1.0
            i = j = 0
            while i < len(ended):
                t = ended[i]
                first = i
                while i < len(ended) and ended[i] == t:
                    i += 1
                j = bisect.bisect_left(going, t, j)
                at_risk = len(ended) - first + len(going) - j
                s *= 1.0 - (i - first) / at_risk
                times.append(t)
                survival.append(s)
            # The exponential rate's estimate under censoring: ends over time at risk.
            mean = (sum(ended) + sum(going)) / len(ended) if ended else self._prior_talk_s
            self._talk_table = _TalkTable(times, survival, len(ended), max(1.0, mean))
        return self._talk_table

    @property
    def mean_talk_s(self) -> float:
        """The mean talk time: the time spent talking over the talks ended, counting the
        talks still going on (the prior before any ended)."""
        return self._talks_now().mean_s

    @property
    def mean_wrap_s(self) -> float:
        if not self._wraps:
            return self._prior_wrap_s
        return sum(self._wraps) / len(self._wraps)

    def talk_survival(self, x: float) -> float:
        """P(talk time > x): the talks' Kaplan-Meier survival, with a few pseudo-samples of
        an exponential tail of the same mean (for agents on calls longer than any seen)."""
        table = self._talks_now()
        k = bisect.bisect_right(table.times, x)
        observed = table.survival[k - 1] if k else 1.0
        tail = TALK_TAIL_WEIGHT * math.exp(-x / table.mean_s)
        return (table.ended * observed + tail) / (table.ended + TALK_TAIL_WEIGHT)

    def wrap_points(self) -> tuple[float, ...]:
        """Wrap-up times standing for the distribution, equally likely each."""
        if self._wrap_points is None:
            samples = self._wraps_sorted
            if not samples:
                self._wrap_points = (self._prior_wrap_s,)
            else:
                last = len(samples) - 1
                self._wrap_points = tuple(samples[round(q * last)] for q in WRAP_QUANTILES)
        return self._wrap_points

    def free_by_after_talk(self, elapsed_s: float, points_s: Sequence[float]) -> list[float]:
        """For an agent whose call has lasted ``elapsed_s``, the probability of being free
        (call ended and wrapped up) ``x`` seconds from now, for each ``x`` in ``points_s``."""
        survival = self.talk_survival
        alive = survival(elapsed_s)
        wraps = self.wrap_points()
        share = 1.0 / len(wraps)
        # Each end instant's term once: wrap-up points are often equal (a constant wrap-up).
        terms: dict[float, float] = {}
        out = []
        for x in points_s:
            p = 0.0
            for wrap in wraps:
                end = elapsed_s + x - wrap
                if end > elapsed_s:
                    term = terms.get(end)
                    if term is None:
                        term = terms[end] = share * (1.0 - survival(end) / alive)
                    p += term
            out.append(min(1.0, max(0.0, p)))
        return out

    def free_by_after_wrap(self, elapsed_s: float, points_s: Sequence[float]) -> list[float]:
        """For an agent wrapping up for ``elapsed_s``, the probability of being free ``x``
        seconds from now, for each ``x`` in ``points_s``."""
        samples = self._wraps_sorted
        above = len(samples) - bisect.bisect_right(samples, elapsed_s)
        if above == 0:
            # Longer than any wrap-up seen: assume a memoryless rest, as long as a mean one.
            mean = max(5.0, self.mean_wrap_s)
            return [1.0 - math.exp(-x / mean) for x in points_s]
        out = []
        for x in points_s:
            done = bisect.bisect_right(samples, elapsed_s + x) - (len(samples) - above)
            out.append(done / above)
        return out


class _TalkTable:
    """The talk-time survival of one refresh: its value after each talk time ended."""

    __slots__ = ("ended", "mean_s", "survival", "times")

    def __init__(
        self, times: list[float], survival: list[float], ended: int, mean_s: float
    ) -> None:
        self.times = times
        self.survival = survival
        self.ended = ended
        self.mean_s = mean_s


def _remember(recent: deque[float], ordered: list[float], value: float) -> None:
    """Append to a bounded window and keep its sorted copy in step."""
    if len(recent) == recent.maxlen:
        oldest = recent[0]
        del ordered[bisect.bisect_left(ordered, oldest)]
    recent.append(value)
    bisect.insort(ordered, value)
