"""The dialing engine's rules: what became of a call, what that does to its record, and the
abandon rate. Pure: times are passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from callhopper.domain.calls import CallOutcome
from callhopper.domain.pacing import DEFAULT_CONNECT_GRACE_S

#: An answered person who waits longer than this for an agent is abandoned.
CONNECT_GRACE_S = DEFAULT_CONNECT_GRACE_S
#: A call the engine lost track of (its process died) can no longer be up this long after
#: its ring timeout ended: the record is given back then, never sooner.
LOST_CALL_GRACE_S = 120.0


class CallResult(StrEnum):
    """How a call of an automatic campaign ended, as the ``calls`` table stores it."""

    #: Answered by a person and bridged to an agent (who wraps it up).
    CONNECTED = "connected"
    #: Answered by a person and not connected to an agent within the grace: the campaign's
    #: message was played.
    ABANDONED = "abandoned"
    #: Answered by an answering machine (the machine action ran).
    MACHINE = "machine"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    #: The process that placed it stopped before the call's outcome was known.
    LOST = "lost"

    @property
    def wrapup_code(self) -> str | None:
        """The wrap-up code the engine applies to the record (``None``: an agent wraps
        it up). The codes are the default set's; the record is retried by that code's
        rule (see :func:`engine_code`)."""
        return _CODES.get(self)


_CODES = {
    CallResult.ABANDONED: "no_answer",
    CallResult.MACHINE: "answering_machine",
    CallResult.NO_ANSWER: "no_answer",
    CallResult.BUSY: "busy",
    CallResult.FAILED: "busy",
    CallResult.LOST: "no_answer",
}
#: When the campaign's wrap-up set lacks the code, the record waits this long instead.
FALLBACK_RETRY_MINUTES = 60


def unanswered_result(outcome: CallOutcome) -> CallResult:
    """The result of a call that ended without an answer."""
    return {
        CallOutcome.NO_ANSWER: CallResult.NO_ANSWER,
        CallOutcome.BUSY: CallResult.BUSY,
        CallOutcome.FAILED: CallResult.FAILED,
    }[outcome]


@dataclass(frozen=True, slots=True)
class AbandonDay:
    """One day of a campaign's calls: those a person answered, and those abandoned."""

    day: date
    answered_by_person: int
    abandoned: int

    @property
    def rate(self) -> float:
        """Abandoned ÷ answered by a person (0 on a day without answers)."""
        return self.abandoned / self.answered_by_person if self.answered_by_person else 0.0


#: The longest period an abandon-rate report covers, in days.
MAX_REPORT_DAYS = 366


@dataclass(frozen=True, slots=True)
class AbandonReport:
    """A campaign's abandon rate per day (days with calls answered by a person), and over
    the whole period from ``first`` to ``last``."""

    campaign_id: int
    target: float
    days: tuple[AbandonDay, ...]
    first: date | None = None
    last: date | None = None

    @property
    def answered_by_person(self) -> int:
        return sum(d.answered_by_person for d in self.days)

    @property
    def abandoned(self) -> int:
        return sum(d.abandoned for d in self.days)

    @property
    def rate(self) -> float:
        answered = self.answered_by_person
        return self.abandoned / answered if answered else 0.0

    @property
    def days_over_target(self) -> int:
        return sum(1 for d in self.days if d.rate > self.target)
