"""Callbacks scheduled by agents: when one may be, and whom it goes to.

A callback is scheduled while the record is with the agent, can be changed or cancelled
until the record is closed, and takes effect at Done: the record then waits, reserved for
whoever the callback is for, until its time, when claims serve it before every other
record of the campaign. A personal callback of an owned record is for the owner: it waits
for them, and is never given to another agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.errors import InvalidInput
from callhopper.domain.records import CallbackKind, CallbackStatus


@dataclass(frozen=True)
class CallbackPlan:
    due_at: datetime
    kind: CallbackKind
    #: Who gets it (``None``: any agent of the queue).
    agent_id: int | None


@dataclass(frozen=True)
class ScheduledCallback:
    """A callback as it stands after it was scheduled or changed."""

    id: int
    campaign_id: int
    record_id: int
    kind: CallbackKind
    #: Whom it waits for, and their user id (``None``: any agent of the queue).
    agent_id: int | None
    agent_user_id: str | None
    due_at: datetime
    number: str | None
    note: str
    status: CallbackStatus


def plan(
    *,
    at: datetime,
    kind: str,
    tz: str | None,
    owner_id: int | None,
    agent_id: int,
    window: CallingWindow,
    now: datetime,
) -> CallbackPlan:
    """Check a callback time and work out who gets the callback.

    ``at`` without a zone is the contact's local time (``tz``). The time must be in the
    future and inside the campaign's calling window in the contact's zone. A personal
    callback goes to the record's owner when it has one, else to the agent scheduling it.
    """
    if kind not in (CallbackKind.PERSONAL, CallbackKind.ANY):
        raise InvalidInput(f"a callback is 'personal' or 'any', not {kind!r}", field="kind")
    if tz is None:
        raise InvalidInput("the contact's time zone is unknown", field="at")
    zone = ZoneInfo(tz)
    due = (at.replace(tzinfo=zone) if at.tzinfo is None else at).astimezone(UTC)
    if due <= now:
        raise InvalidInput(
            f"the callback time {due.astimezone(zone):%Y-%m-%d %H:%M} ({tz}) is in the past",
            field="at",
        )
    if not window.is_open(due, tz):
        raise InvalidInput(
            f"{due.astimezone(zone):%Y-%m-%d %H:%M} is outside the calling window "
            f"({window.describe()}) in the contact's zone {tz}",
            field="at",
        )
    target = None
    if kind == CallbackKind.PERSONAL:
        target = owner_id if owner_id is not None else agent_id
    return CallbackPlan(due, CallbackKind(kind), target)


@dataclass(frozen=True, slots=True)
class CampaignCallback:
    """A callback as the campaign's callbacks report lists it."""

    id: int
    campaign_id: int
    record_id: int
    kind: str
    #: Whom it goes to (``None``: any agent of the queue).
    agent_user_id: str | None
    due_at: datetime
    number: str | None
    note: str
    status: str
    #: Whether the agent it waits for is logged into the campaign (always False for a
    #: callback that goes to any agent, and in the report of every scheduled callback).
    agent_logged_in: bool = False
