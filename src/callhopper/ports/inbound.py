"""The inbound port: routes for our numbers, and the leads a caller's number finds."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.inbound import InboundRoute, Lead


class InboundStore(Protocol):
    def route(self, route_id: int) -> InboundRoute | None: ...

    def route_for(self, number: str) -> InboundRoute | None:
        """The route of a number (E.164)."""
        ...

    def routes(self) -> list[InboundRoute]:
        """Every route, by number."""
        ...

    def add_route(
        self,
        *,
        number: str,
        name: str,
        route_unavailable_agents: bool,
        fallback: str,
        now: datetime,
    ) -> InboundRoute: ...

    def change_route(
        self,
        route_id: int,
        *,
        number: str | None,
        name: str | None,
        route_unavailable_agents: bool | None,
        fallback: str | None,
    ) -> InboundRoute:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def delete_route(self, route_id: int) -> None: ...

    def numbers_falling_back_to(self, fallback: str) -> list[str]:
        """The numbers of the routes with this fallback."""
        ...

    def leads_with_number(self, number: str) -> list[Lead]:
        """The leads that carry a number (E.164), most recently updated first, with their
        owners' state."""
        ...
