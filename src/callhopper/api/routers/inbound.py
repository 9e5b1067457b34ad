"""Inbound routing to lead owners: routes for our numbers, and where a call goes.

Inbound routes are managed with ``campaign.manage``; the routing decision is also open to
``agent.work`` tokens, which is what a telephony integration uses.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from callhopper.api.deps import InboundDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import Body, Changes, Identifier, Name, PhoneText
from callhopper.domain.actors import Actor
from callhopper.domain.inbound import InboundRoute, RoutingKind, RoutingReason
from callhopper.domain.rights import Right

router = APIRouter(tags=["inbound"])

RouteManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]
RouteReader = Annotated[Actor, Depends(require_any(Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))]
CallRouter = Annotated[Actor, Depends(require(Right.TELEPHONY_ROUTE))]


class InboundRouteCreate(Body):
    number: PhoneText = Field(description="The number called (our DID); stored as E.164.")
    name: Name = ""
    route_unavailable_agents: bool = Field(
        False,
        description="Yes: when the owner is logged out, any agent may take the call. "
        "No (default): the call goes to the fallback, never to another agent.",
    )
    fallback: Identifier = Field(description="`voicemail`, `queue:<id>` or `number:<phone>`.")


class InboundRouteUpdate(Changes):
    number: PhoneText | None = None
    name: Name | None = None
    route_unavailable_agents: bool | None = None
    fallback: Identifier | None = None


class InboundRoutePublic(BaseModel):
    id: int
    number: str
    name: str
    route_unavailable_agents: bool
    fallback: str
    created_at: datetime


class InboundCallIn(Body):
    caller: PhoneText = Field(description="The caller's number (withheld numbers: any text).")
    called: PhoneText = Field(description="The number called: one with an inbound route.")


class RoutingDecisionPublic(BaseModel):
    kind: RoutingKind
    destination: str
    reason: RoutingReason
    route_id: int
    called: str
    caller: str | None
    record_id: int | None
    owner_user_id: str | None


def route_public(route: InboundRoute) -> InboundRoutePublic:
    """A stored route as the API shows it."""
    return InboundRoutePublic(**dataclasses.asdict(route))


@router.get("/inbound-routes", response_model=list[InboundRoutePublic])
def list_routes(_actor: RouteReader, inbound: InboundDep) -> list[InboundRoutePublic]:
    """Every inbound route, by number."""
    return [route_public(r) for r in inbound.routes()]


@router.post(
    "/inbound-routes", response_model=InboundRoutePublic, status_code=status.HTTP_201_CREATED
)
def create_route(
    body: InboundRouteCreate, actor: RouteManager, inbound: InboundDep
) -> InboundRoutePublic:
    """A route for calls to our number ``number`` (stored as E.164) with its fallback."""
    route = inbound.create_route(
        actor,
        number=body.number,
        fallback=body.fallback,
        name=body.name,
        route_unavailable_agents=body.route_unavailable_agents,
    )
    return route_public(route)


@router.get("/inbound-routes/{route_id}", response_model=InboundRoutePublic)
def get_route(route_id: IntId, _actor: RouteReader, inbound: InboundDep) -> InboundRoutePublic:
    """One inbound route."""
    return route_public(inbound.route(route_id))


@router.patch("/inbound-routes/{route_id}", response_model=InboundRoutePublic)
def update_route(
    route_id: IntId, body: InboundRouteUpdate, actor: RouteManager, inbound: InboundDep
) -> InboundRoutePublic:
    """Change the fields given."""
    route = inbound.update_route(
        actor,
        route_id,
        number=body.number,
        fallback=body.fallback,
        name=body.name,
        route_unavailable_agents=body.route_unavailable_agents,
    )
    return route_public(route)


@router.delete("/inbound-routes/{route_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_route(route_id: IntId, actor: RouteManager, inbound: InboundDep) -> None:
    """Delete a route: calls to its number have no route any more (404 from the decision)."""
    inbound.delete_route(actor, route_id)


@router.post("/inbound/route", response_model=RoutingDecisionPublic)
def route_call(
    body: InboundCallIn, _actor: CallRouter, inbound: InboundDep
) -> RoutingDecisionPublic:
    """Where a call from ``caller`` to ``called`` goes: ``agent:<user_id>`` when the lead's
    owner is available (logged into a campaign), else the route's fallback — with
    ``kind: any_agent`` only when the route lets an unavailable owner be replaced."""
    decision = inbound.route_call(caller=body.caller, called=body.called)
    return RoutingDecisionPublic(**dataclasses.asdict(decision))
