"""Inbound routes and the leads a caller's number finds, in SQL: :class:`SqlInboundStore`
(:class:`callhopper.ports.inbound.InboundStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callhopper.domain.errors import NotFound
from callhopper.domain.inbound import InboundRoute, Lead
from callhopper.store.models import AgentSession, Record, RecordPhone, User
from callhopper.store.models import InboundRoute as Route


def _route(route: Route) -> InboundRoute:
    return InboundRoute(
        id=route.id,
        number=route.number,
        name=route.name,
        route_unavailable_agents=route.route_unavailable_agents,
        fallback=route.fallback,
        created_at=route.created_at,
    )


class SqlInboundStore:
    """:class:`callhopper.ports.inbound.InboundStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def route(self, route_id: int) -> InboundRoute | None:
        route = self.session.get(Route, route_id)
        return _route(route) if route is not None else None

    def route_for(self, number: str) -> InboundRoute | None:
        route = self.session.scalar(select(Route).where(Route.number == number))
        return _route(route) if route is not None else None

    def routes(self) -> list[InboundRoute]:
        return [_route(r) for r in self.session.scalars(select(Route).order_by(Route.number))]

    def add_route(
        self,
        *,
        number: str,
        name: str,
        route_unavailable_agents: bool,
        fallback: str,
        now: datetime,
    ) -> InboundRoute:
        route = Route(
            number=number,
            name=name,
            route_unavailable_agents=route_unavailable_agents,
            fallback=fallback,
            created_at=now,
        )
        self.session.add(route)
        self.session.flush()
        return _route(route)

    def change_route(
        self,
        route_id: int,
        *,
        number: str | None,
        name: str | None,
        route_unavailable_agents: bool | None,
        fallback: str | None,
    ) -> InboundRoute:
        route = self._get(route_id)
        if number is not None:
            route.number = number
        if fallback is not None:
            route.fallback = fallback
        if name is not None:
            route.name = name
        if route_unavailable_agents is not None:
            route.route_unavailable_agents = route_unavailable_agents
        self.session.flush()
        return _route(route)

    def delete_route(self, route_id: int) -> None:
        self.session.delete(self._get(route_id))
        self.session.flush()

    def numbers_falling_back_to(self, fallback: str) -> list[str]:
        query = select(Route.number).where(Route.fallback == fallback)
        return list(self.session.scalars(query))

    def leads_with_number(self, number: str) -> list[Lead]:
        logged_in = select(AgentSession.user_id).where(AgentSession.user_id == User.id).exists()
        rows = self.session.execute(
            select(Record.id, Record.owner_id, User.user_id, User.active, logged_in)
            .outerjoin(User, User.id == Record.owner_id)
            .where(Record.id.in_(select(RecordPhone.record_id).where(RecordPhone.e164 == number)))
            .order_by(Record.updated_at.desc(), Record.id.desc())
        ).all()
        return [
            Lead(
                record_id=record_id,
                owner_id=owner_id,
                owner_user_id=owner_user_id,
                owner_active=bool(active),
                available=bool(available),
            )
            for record_id, owner_id, owner_user_id, active, available in rows
        ]

    def _get(self, route_id: int) -> Route:
        route = self.session.get(Route, route_id)
        if route is None:
            raise NotFound(f"no inbound route {route_id}", field="route_id")
        return route
