"""Inbound calls to owned leads (SPEC §7.3): routes for our numbers, and the routing
decision for one call.

A route is looked up by the number called (the DID). The caller's number finds the
leads that carry it (``record_phones``). A lead whose owner is available (logged into
at least one campaign) sends the call to that owner. Otherwise the call goes to the
route's fallback: an owner who is logged out is not replaced by another agent unless the
route says *route unavailable agents = yes*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.errors import AlreadyExists, InvalidInput, NotFound
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.settings import get_settings
from callhopper.store.audit import audit
from callhopper.store.models import AgentSession, InboundRoute, Queue, Record, RecordPhone, User
from callhopper.store.types import INTEGER_MAX

__all__ = [
    "RoutingDecision",
    "RoutingKind",
    "RoutingReason",
    "check_fallback",
    "create_route",
    "delete_route",
    "get_route",
    "list_routes",
    "route_call",
    "route_view",
    "update_route",
]

VOICEMAIL: Final = "voicemail"
_QUEUE_RE: Final = re.compile(r"\Aqueue:([1-9][0-9]{0,9})\Z")
_NUMBER_PREFIX: Final = "number:"
_MAX_NAME: Final = 200


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


@dataclass(frozen=True)
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


# --- routes --------------------------------------------------------------------------------------


def get_route(session: Session, route_id: int) -> InboundRoute:
    """The route, or :class:`NotFound`."""
    route = session.get(InboundRoute, route_id)
    if route is None:
        raise NotFound(f"no inbound route {route_id}", field="route_id")
    return route


def list_routes(session: Session) -> Sequence[InboundRoute]:
    """Every inbound route, by number."""
    return session.scalars(select(InboundRoute).order_by(InboundRoute.number)).all()


def create_route(
    session: Session,
    actor: Actor,
    *,
    number: str,
    fallback: str,
    name: str = "",
    route_unavailable_agents: bool = False,
    default_region: str | None = None,
    now: datetime,
) -> InboundRoute:
    """A route for calls to ``number`` (normalised to E.164; audited)."""
    e164 = _route_number(session, number, _region(default_region), route_id=None)
    route = InboundRoute(
        number=e164,
        name=_checked_name(name),
        route_unavailable_agents=route_unavailable_agents,
        fallback=check_fallback(session, fallback, _region(default_region)),
        created_at=now,
    )
    session.add(route)
    session.flush()
    audit(
        session,
        actor,
        "inbound_route.create",
        "inbound_route",
        route.id,
        now=now,
        after=route_view(route),
    )
    return route


def update_route(
    session: Session,
    actor: Actor,
    route_id: int,
    *,
    number: str | None = None,
    fallback: str | None = None,
    name: str | None = None,
    route_unavailable_agents: bool | None = None,
    default_region: str | None = None,
    now: datetime,
) -> InboundRoute:
    """Change the fields given (``None`` keeps one as it is; audited)."""
    route = get_route(session, route_id)
    before = route_view(route)
    region = _region(default_region)
    if number is not None:
        route.number = _route_number(session, number, region, route_id=route.id)
    if fallback is not None:
        route.fallback = check_fallback(session, fallback, region)
    if name is not None:
        route.name = _checked_name(name)
    if route_unavailable_agents is not None:
        route.route_unavailable_agents = route_unavailable_agents
    session.flush()
    audit(
        session,
        actor,
        "inbound_route.update",
        "inbound_route",
        route.id,
        now=now,
        before=before,
        after=route_view(route),
    )
    return route


def delete_route(session: Session, actor: Actor, route_id: int, *, now: datetime) -> None:
    """Delete a route (audited); calls to its number then have no route."""
    route = get_route(session, route_id)
    audit(
        session,
        actor,
        "inbound_route.delete",
        "inbound_route",
        route.id,
        now=now,
        before=route_view(route),
    )
    session.delete(route)
    session.flush()


def route_view(route: InboundRoute) -> dict[str, Any]:
    """The route as audited."""
    return {
        "number": route.number,
        "name": route.name,
        "route_unavailable_agents": route.route_unavailable_agents,
        "fallback": route.fallback,
    }


def check_fallback(session: Session, fallback: str, default_region: str) -> str:
    """A valid fallback destination in canonical form: ``voicemail``, ``queue:<id>`` (an
    existing queue) or ``number:<phone>`` (an outside number, returned as E.164)."""
    value = fallback.strip()
    if value == VOICEMAIL:
        return value
    queue = _QUEUE_RE.match(value)
    if queue is not None:
        queue_id = int(queue.group(1))
        # Past the column's range no queue has the id (and PostgreSQL would refuse to look).
        if queue_id > INTEGER_MAX or session.get(Queue, queue_id) is None:
            raise InvalidInput(f"fallback {value!r}: no queue {queue.group(1)}", field="fallback")
        return value
    if value.startswith(_NUMBER_PREFIX):
        try:
            return _NUMBER_PREFIX + normalise_phone(value[len(_NUMBER_PREFIX) :], default_region)
        except PhoneError as exc:
            raise InvalidInput(f"fallback: {exc}", field="fallback") from None
    raise InvalidInput(
        f"fallback {value!r} is not a destination: use 'voicemail', 'queue:<id>' or "
        "'number:<phone>'",
        field="fallback",
    )


def _route_number(session: Session, number: str, region: str, *, route_id: int | None) -> str:
    try:
        e164 = normalise_phone(number, region)
    except PhoneError as exc:
        raise InvalidInput(str(exc), field="number") from None
    other = session.scalar(select(InboundRoute.id).where(InboundRoute.number == e164))
    if other is not None and other != route_id:
        raise AlreadyExists(f"{e164} already has an inbound route ({other})", field="number")
    return e164


def _checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > _MAX_NAME:
        raise InvalidInput(f"the name has more than {_MAX_NAME} characters", field="name")
    return name


def _region(default_region: str | None) -> str:
    return default_region if default_region is not None else get_settings().default_region


# --- the decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    record_id: int
    owner_id: int | None
    owner_user_id: str | None
    owner_active: bool
    available: bool


def route_call(
    session: Session,
    *,
    caller: str,
    called: str,
    now: datetime,
    default_region: str | None = None,
) -> RoutingDecision:
    """Decide where a call from ``caller`` to ``called`` goes (SPEC §7.3).

    ``called`` must be the number of a route (:class:`NotFound` otherwise; an unreadable
    number is :class:`InvalidInput`). A caller number that cannot be read (withheld,
    ``anonymous``) is an unknown caller. Of the leads with the caller's number, the first
    one (most recently updated first) whose owner is available decides; failing that, one
    whose active owner is logged out, then one whose owner is deactivated, then any.
    ``now`` is accepted for symmetry with the other store calls: availability is the
    agent's session state, not a time.
    """
    region = _region(default_region)
    try:
        called_e164 = normalise_phone(called, region)
    except PhoneError as exc:
        raise InvalidInput(str(exc), field="called") from None
    route = session.scalar(select(InboundRoute).where(InboundRoute.number == called_e164))
    if route is None:
        raise NotFound(f"no inbound route for the number {called_e164}", field="called")
    try:
        caller_e164: str | None = normalise_phone(caller, region)
    except PhoneError:
        caller_e164 = None

    def decide(
        kind: RoutingKind, reason: RoutingReason, lead: _Candidate | None = None
    ) -> RoutingDecision:
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
            called=called_e164,
            caller=caller_e164,
            record_id=lead.record_id if lead is not None else None,
            owner_user_id=lead.owner_user_id if lead is not None else None,
        )

    leads = _candidates(session, caller_e164) if caller_e164 is not None else []
    if not leads:
        return decide(RoutingKind.FALLBACK, RoutingReason.UNKNOWN_CALLER)
    owned = [c for c in leads if c.owner_id is not None and c.owner_active]
    available = next((c for c in owned if c.available), None)
    if available is not None:
        return decide(RoutingKind.OWNER, RoutingReason.OWNER_AVAILABLE, available)
    if owned:
        # The owner is logged out: by default the call must not reach another agent.
        kind = RoutingKind.ANY_AGENT if route.route_unavailable_agents else RoutingKind.FALLBACK
        return decide(kind, RoutingReason.OWNER_UNAVAILABLE, owned[0])
    gone = next((c for c in leads if c.owner_id is not None), None)
    if gone is not None:
        return decide(RoutingKind.FALLBACK, RoutingReason.OWNER_DEACTIVATED, gone)
    return decide(RoutingKind.FALLBACK, RoutingReason.NO_OWNER, leads[0])


def _candidates(session: Session, caller: str) -> list[_Candidate]:
    """Leads with the number, most recently updated first, with their owner's state."""
    logged_in = select(AgentSession.user_id).where(AgentSession.user_id == User.id).exists()
    rows = session.execute(
        select(Record.id, Record.owner_id, User.user_id, User.active, logged_in)
        .outerjoin(User, User.id == Record.owner_id)
        .where(Record.id.in_(select(RecordPhone.record_id).where(RecordPhone.e164 == caller)))
        .order_by(Record.updated_at.desc(), Record.id.desc())
    ).all()
    return [
        _Candidate(
            record_id=record_id,
            owner_id=owner_id,
            owner_user_id=owner_user_id,
            owner_active=bool(active),
            available=bool(available),
        )
        for record_id, owner_id, owner_user_id, active, available in rows
    ]
