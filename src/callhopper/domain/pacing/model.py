"""What a pacer sees, what it answers, and the interface every pacer keeps.

A pacer is asked, again and again, *how many new calls should be placed now?* It gets a
:class:`PacingObservation` (a snapshot of the campaign's agents and calls at one instant)
and answers with a :class:`PacingDecision`. Between questions it is told what became of
the calls it caused: each call's resolution with its ring time, each talk and wrap-up time,
each abandoned call. Times are plain seconds on a clock of the caller's choosing (a
monotonic clock, or a simulation's), passed in: a pacer never reads a clock and does no
I/O, so any simulator can drive it (``docs/dialing/pacer.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from callhopper.domain.calls import CallOutcome

#: The abandon-rate target of a campaign that does not set one: 3% of the calls a person
#: answers.
DEFAULT_ABANDON_TARGET = 0.03
#: How long an answered person may wait for an agent before the call counts as abandoned.
DEFAULT_CONNECT_GRACE_S = 2.0
#: How often a pacer asks to be consulted when nothing happens.
DEFAULT_RECHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class PacingTarget:
    """What a campaign asks of its pacer."""

    #: The highest share of person-answered calls that may be abandoned, each day.
    abandon_rate: float = DEFAULT_ABANDON_TARGET
    #: An answered person connected to an agent within this many seconds is not abandoned.
    connect_grace_s: float = DEFAULT_CONNECT_GRACE_S
    #: The ring timeout of the campaign's calls (a call unanswered this long is a no-answer).
    ring_timeout_s: float = 25.0

    def __post_init__(self) -> None:
        if not 0 < self.abandon_rate < 1:
            raise ValueError(f"abandon_rate must be between 0 and 1, not {self.abandon_rate}")
        if not 0 <= self.connect_grace_s < 60 or not math.isfinite(self.connect_grace_s):
            raise ValueError(f"connect_grace_s must be in [0, 60), not {self.connect_grace_s}")
        if not self.ring_timeout_s > 0:
            raise ValueError(f"ring_timeout_s must be positive, not {self.ring_timeout_s}")


@dataclass(frozen=True, slots=True)
class PacingObservation:
    """The campaign at one instant, as the engine sees it.

    Agents are counted in exactly one of: free (ready, waiting for a call), talking (on a
    call), wrapping (after a call), or none of these (paused, or leaving once their call
    ends: they will not take another call and the pacer must not count on them). Calls in
    flight are those placed and not yet resolved (ringing, or not yet ringing); calls
    answered by a person and not yet bridged to an agent are ``waiting``.
    """

    #: The caller's clock, in seconds.
    now_s: float
    #: Agents logged into the campaign, in any state.
    agents_logged_in: int
    #: Agents ready for a call now.
    agents_free: int
    #: For each agent on a call, the seconds since the call was bridged.
    talking_s: Sequence[float] = ()
    #: For each agent wrapping up, the seconds since the call ended.
    wrapping_s: Sequence[float] = ()
    #: For each call in flight, the seconds since it was placed.
    ringing_s: Sequence[float] = ()
    #: Calls answered by a person, waiting for an agent.
    waiting: int = 0

    def __post_init__(self) -> None:
        counts = {"agents_logged_in": self.agents_logged_in, "agents_free": self.agents_free}
        counts["waiting"] = self.waiting
        for name, value in counts.items():
            if value < 0:
                raise ValueError(f"{name} must be at least 0, not {value}")
        busy = len(self.talking_s) + len(self.wrapping_s)
        if self.agents_free + busy > self.agents_logged_in:
            raise ValueError(
                f"{self.agents_free} free + {busy} busy agents exceed the "
                f"{self.agents_logged_in} logged in"
            )
        for name in ("talking_s", "wrapping_s", "ringing_s"):
            if not min(getattr(self, name), default=0.0) >= 0:
                raise ValueError(f"{name}: elapsed times must be at least 0")

    @property
    def agents_available(self) -> int:
        """Agents who are free or will be free after their current call."""
        return self.agents_free + len(self.talking_s) + len(self.wrapping_s)


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """Place ``calls`` new calls now; ask again within ``recheck_after_s`` seconds at the
    latest (earlier when something happens: a call resolves, an agent becomes free)."""

    calls: int
    recheck_after_s: float = DEFAULT_RECHECK_S

    def __post_init__(self) -> None:
        if self.calls < 0:
            raise ValueError(f"calls must be at least 0, not {self.calls}")
        if not self.recheck_after_s > 0:
            raise ValueError(f"recheck_after_s must be positive, not {self.recheck_after_s}")


class Pacer(Protocol):
    """Decides how many calls to place, and learns from what became of them.

    The feedback methods take the instant (``at_s``, on the observations' clock) at which
    the thing was learnt. A day starts with :meth:`start_day`: the day's abandon count,
    which the target applies to, starts from zero (the running estimates are kept).
    """

    def decide(self, observation: PacingObservation) -> PacingDecision:
        """How many new calls to place now."""
        ...

    def call_resolved(self, outcome: CallOutcome, ring_s: float, at_s: float) -> None:
        """A call placed ``ring_s`` seconds ago resolved: answered (by a person or a machine,
        as detection reported it), not answered, busy or failed."""
        ...

    def talk_ended(self, talk_s: float, at_s: float) -> None:
        """A call bridged to an agent ended after ``talk_s`` seconds."""
        ...

    def wrap_ended(self, wrap_s: float, at_s: float) -> None:
        """An agent finished wrapping up after ``wrap_s`` seconds."""
        ...

    def abandoned(self, at_s: float) -> None:
        """A call answered by a person was not connected to an agent within the grace."""
        ...

    def start_day(self, at_s: float) -> None:
        """A new day of the campaign begins: the abandon target is counted afresh."""
        ...


class ProgressivePacer:
    """One call in flight per free agent: an answered person always has an agent (the
    baseline, and the mode of campaigns that must never abandon a call)."""

    def decide(self, observation: PacingObservation) -> PacingDecision:
        spare = observation.agents_free - len(observation.ringing_s) - observation.waiting
        return PacingDecision(max(0, spare))

    def call_resolved(self, outcome: CallOutcome, ring_s: float, at_s: float) -> None:
        """Progressive dialing learns nothing from outcomes."""

    def talk_ended(self, talk_s: float, at_s: float) -> None:
        """Progressive dialing learns nothing from talk times."""

    def wrap_ended(self, wrap_s: float, at_s: float) -> None:
        """Progressive dialing learns nothing from wrap-up times."""

    def abandoned(self, at_s: float) -> None:
        """Progressive dialing does not abandon calls on purpose."""

    def start_day(self, at_s: float) -> None:
        """Progressive dialing keeps no daily count."""
