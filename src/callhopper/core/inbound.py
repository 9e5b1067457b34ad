"""Inbound calls to owned leads: routes for our numbers, and the routing decision for one call
(:class:`InboundService`; the rules are in :mod:`callhopper.domain.inbound`)."""

from __future__ import annotations

from callhopper.domain.actors import Actor
from callhopper.domain.errors import AlreadyExists, InvalidInput, NotFound
from callhopper.domain.inbound import (
    InboundRoute,
    RoutingDecision,
    called_number,
    caller_number,
    canonical_fallback,
    check_route_name,
    decide,
    route_number,
)
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork


class InboundService:
    """Inbound routes (audited) and the decision of where a call goes. Numbers written
    without ``+country`` are read in ``default_region``."""

    def __init__(self, uow: UnitOfWork, clock: Clock, *, default_region: str) -> None:
        self.uow = uow
        self.clock = clock
        self.default_region = default_region

    def routes(self) -> list[InboundRoute]:
        """Every inbound route, by number."""
        with self.uow.read() as tx:
            return tx.inbound.routes()

    def route(self, route_id: int) -> InboundRoute:
        with self.uow.read() as tx:
            return _route(tx, route_id)

    def create_route(
        self,
        actor: Actor,
        *,
        number: str,
        fallback: str,
        name: str = "",
        route_unavailable_agents: bool = False,
    ) -> InboundRoute:
        """A route for calls to ``number`` (stored as E.164) with its fallback."""
        now = self.clock.now()
        with self.uow.write() as tx:
            route = tx.inbound.add_route(
                number=self._free_number(tx, number, route_id=None),
                name=check_route_name(name),
                route_unavailable_agents=route_unavailable_agents,
                fallback=self._fallback(tx, fallback),
                now=now,
            )
            tx.audit.add(
                actor,
                "inbound_route.create",
                "inbound_route",
                route.id,
                now=now,
                after=route.view(),
            )
            return route

    def update_route(
        self,
        actor: Actor,
        route_id: int,
        *,
        number: str | None = None,
        fallback: str | None = None,
        name: str | None = None,
        route_unavailable_agents: bool | None = None,
    ) -> InboundRoute:
        """Change the fields given (``None`` keeps one as it is)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            route = _route(tx, route_id)
            after = tx.inbound.change_route(
                route.id,
                number=(
                    self._free_number(tx, number, route_id=route.id) if number is not None else None
                ),
                fallback=self._fallback(tx, fallback) if fallback is not None else None,
                name=check_route_name(name) if name is not None else None,
                route_unavailable_agents=route_unavailable_agents,
            )
            tx.audit.add(
                actor,
                "inbound_route.update",
                "inbound_route",
                route.id,
                now=now,
                before=route.view(),
                after=after.view(),
            )
            return after

    def delete_route(self, actor: Actor, route_id: int) -> None:
        """Delete a route; calls to its number then have no route."""
        now = self.clock.now()
        with self.uow.write() as tx:
            route = _route(tx, route_id)
            tx.audit.add(
                actor,
                "inbound_route.delete",
                "inbound_route",
                route.id,
                now=now,
                before=route.view(),
            )
            tx.inbound.delete_route(route.id)

    def route_call(self, *, caller: str, called: str) -> RoutingDecision:
        """Where a call from ``caller`` to ``called`` goes. ``called`` must be the number
        of a route (:class:`NotFound` otherwise; an unreadable number is
        :class:`InvalidInput`); a caller number that cannot be read is an unknown caller."""
        called_e164 = called_number(called, self.default_region)
        with self.uow.read() as tx:
            route = tx.inbound.route_for(called_e164)
            if route is None:
                raise NotFound(f"no inbound route for the number {called_e164}", field="called")
            caller_e164 = caller_number(caller, self.default_region)
            leads = tx.inbound.leads_with_number(caller_e164) if caller_e164 is not None else []
        return decide(route, called_e164, caller_e164, leads)

    def _free_number(self, tx: Transaction, number: str, *, route_id: int | None) -> str:
        e164 = route_number(number, self.default_region)
        other = tx.inbound.route_for(e164)
        if other is not None and other.id != route_id:
            raise AlreadyExists(f"{e164} already has an inbound route ({other.id})", field="number")
        return e164

    def _fallback(self, tx: Transaction, fallback: str) -> str:
        value, queue_id = canonical_fallback(fallback, self.default_region)
        if queue_id is not None and tx.queues.queue(queue_id) is None:
            raise InvalidInput(f"fallback {value!r}: no queue {queue_id}", field="fallback")
        return value


def _route(tx: Transaction, route_id: int) -> InboundRoute:
    route = tx.inbound.route(route_id)
    if route is None:
        raise NotFound(f"no inbound route {route_id}", field="route_id")
    return route
