"""Inbound calls to owned leads: routes for our numbers, and where one call goes.

A route is looked up by the number called (the DID). The caller's number finds the leads that
carry it. A lead whose owner is available (logged into at least one campaign) sends the call
to that owner. Otherwise the call goes to the route's fallback: an owner who is logged out is
not replaced by another agent unless the route says *route unavailable agents = yes*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from callhopper.domain.errors import InvalidInput
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.domain.phones import PhoneError, normalise_phone

VOICEMAIL: Final = "voicemail"
_QUEUE_RE: Final = re.compile(r"\Aqueue:([1-9][0-9]{0,9})\Z")
_NUMBER_PREFIX: Final = "number:"


class RoutingKind(StrEnum):
    """Where a call goes: its lead's owner, the fallback, or the fallback with leave to hand
    it to any agent."""

    OWNER = "owner"
    FALLBACK = "fallback"
    ANY_AGENT = "any_agent"


class RoutingReason(StrEnum):
    """Why the call goes where it goes."""

    OWNER_AVAILABLE = "owner_available"
    OWNER_UNAVAILABLE = "owner_unavailable"
    OWNER_DEACTIVATED = "owner_deactivated"
    NO_OWNER = "no_owner"
    UNKNOWN_CALLER = "unknown_caller"


@dataclass(frozen=True, slots=True)
class InboundRoute:
    """What to do with calls to one of our numbers (E.164)."""

    id: int
    number: str
    name: str
    route_unavailable_agents: bool
    fallback: str
    created_at: datetime

    def view(self) -> dict[str, Any]:
        """The route as the audit log shows it."""
        return {
            "number": self.number,
            "name": self.name,
            "route_unavailable_agents": self.route_unavailable_agents,
            "fallback": self.fallback,
        }


@dataclass(frozen=True, slots=True)
class Lead:
    """A lead that carries the caller's number, with its owner's state."""

    record_id: int
    owner_id: int | None
    owner_user_id: str | None
    owner_active: bool
    #: The owner is logged into at least one campaign.
    available: bool


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where one inbound call goes.

    ``destination`` is ``agent:<user_id>`` for the owner, else the route's fallback
    (``voicemail``, ``queue:<id>``, ``number:<E.164>``). ``record_id`` and
    ``owner_user_id`` name the lead that decided, when one did.
    """

    kind: RoutingKind
    destination: str
    reason: RoutingReason
    route_id: int
    called: str
    caller: str | None
    record_id: int | None
    owner_user_id: str | None


def queue_destination(queue_id: int) -> str:
    """The fallback that sends calls to a queue."""
    return f"queue:{queue_id}"


def canonical_fallback(fallback: str, region: str) -> tuple[str, int | None]:
    """A fallback destination in canonical form, with the queue it names (if it names one):
    ``voicemail``, ``queue:<id>`` or ``number:<phone>`` (an outside number, as E.164).
    :class:`InvalidInput` for anything else."""
    value = fallback.strip()
    if value == VOICEMAIL:
        return value, None
    queue = _QUEUE_RE.match(value)
    if queue is not None:
        return value, int(queue.group(1))
    if value.startswith(_NUMBER_PREFIX):
        try:
            number = normalise_phone(value[len(_NUMBER_PREFIX) :], region)
        except PhoneError as exc:
            raise InvalidInput(f"fallback: {exc}", field="fallback") from None
        return _NUMBER_PREFIX + number, None
    raise InvalidInput(
        f"fallback {value!r} is not a destination: use 'voicemail', 'queue:<id>' or "
        "'number:<phone>'",
        field="fallback",
    )


def route_number(number: str, region: str) -> str:
    """The number of a route as E.164; :class:`InvalidInput` if it is not one."""
    try:
        return normalise_phone(number, region)
    except PhoneError as exc:
        raise InvalidInput(str(exc), field="number") from None


def called_number(called: str, region: str) -> str:
    """The number a call was made to, as E.164; :class:`InvalidInput` if it is not one."""
    try:
        return normalise_phone(called, region)
    except PhoneError as exc:
        raise InvalidInput(str(exc), field="called") from None


def caller_number(caller: str, region: str) -> str | None:
    """The caller's number as E.164, or ``None`` when it cannot be read (withheld,
    ``anonymous``): an unknown caller."""
    try:
        return normalise_phone(caller, region)
    except PhoneError:
        return None


def check_route_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the name has more than {MAX_NAME_LENGTH} characters", field="name")
    return name


def decide(
    route: InboundRoute, called: str, caller: str | None, leads: Sequence[Lead]
) -> RoutingDecision:
    """Where a call from ``caller`` to ``called`` (the route's number) goes, given the leads
    with the caller's number, most recently updated first: the first one whose owner is
    available decides; failing that, one whose active owner is logged out, then one whose
    owner is deactivated, then any."""

    def to(kind: RoutingKind, reason: RoutingReason, lead: Lead | None = None) -> RoutingDecision:
        destination = (
            f"agent:{lead.owner_user_id}"
            if kind is RoutingKind.OWNER and lead is not None
            else route.fallback
        )
        return RoutingDecision(
            kind=kind,
            destination=destination,
            reason=reason,
            route_id=route.id,
            called=called,
            caller=caller,
            record_id=lead.record_id if lead is not None else None,
            owner_user_id=lead.owner_user_id if lead is not None else None,
        )

    if not leads:
        return to(RoutingKind.FALLBACK, RoutingReason.UNKNOWN_CALLER)
    owned = [c for c in leads if c.owner_id is not None and c.owner_active]
    available = next((c for c in owned if c.available), None)
    if available is not None:
        return to(RoutingKind.OWNER, RoutingReason.OWNER_AVAILABLE, available)
    if owned:
        # The owner is logged out: by default the call must not reach another agent.
        kind = RoutingKind.ANY_AGENT if route.route_unavailable_agents else RoutingKind.FALLBACK
        return to(kind, RoutingReason.OWNER_UNAVAILABLE, owned[0])
    gone = next((c for c in leads if c.owner_id is not None), None)
    if gone is not None:
        return to(RoutingKind.FALLBACK, RoutingReason.OWNER_DEACTIVATED, gone)
    return to(RoutingKind.FALLBACK, RoutingReason.NO_OWNER, leads[0])
