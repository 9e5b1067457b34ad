"""The facade of the dispensing core: what the API, the pages and the dialing engine call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from callhopper.core.dispensing import (
    callbacks,
    calls,
    getrecord,
    push,
    sessions,
    wrapup,
)
from callhopper.core.dispensing.base import DispensingBase
from callhopper.core.dispensing.views import Delivery, DialResult, MyCampaign, NoRecord
from callhopper.domain.actors import Actor
from callhopper.domain.callbacks import ScheduledCallback
from callhopper.domain.campaigns import Channel
from callhopper.domain.events import HeldPush


class Dispenser(DispensingBase):
    """Agent-facing operations of preview-type campaigns: which record an agent works
    next, and what the agent does with it. Each operation is one transaction (Call is
    two, around the validation service)."""

    # --- campaigns and sessions ---------------------------------------------------------------

    def my_campaigns(self, agent: Actor) -> list[MyCampaign]:
        """Running campaigns of the agent's queues (*My Campaigns*)."""
        return sessions.my_campaigns(self, agent)

    def login(self, agent: Actor, campaign_id: int) -> None:
        sessions.login(self, agent, campaign_id)

    def logout(self, agent: Actor, campaign_id: int) -> None:
        """Leave the campaign. A record still delivered goes back; its owner does not change."""
        sessions.logout(self, agent, campaign_id)

    def set_receiving(self, agent: Actor, campaign_id: int, on: bool) -> None:
        """Direct push preview's Get Record / Stop toggle."""
        sessions.set_receiving(self, agent, campaign_id, on)

    def set_channel(self, agent: Actor, channel: Channel, ready: bool) -> dict[Channel, bool]:
        """Ready / not ready on a channel; every channel's state after it."""
        return sessions.set_channel(self, agent, channel, ready)

    def channels(self, agent: Actor) -> dict[Channel, bool]:
        return sessions.channels(self, agent)

    def receiving(self, agent: Actor, campaign_id: int) -> bool:
        """Whether the agent's Get Record / Stop toggle is on in the campaign."""
        return sessions.receiving(self, agent, campaign_id)

    def held_pushes(self, agent_ids: list[int]) -> list[HeldPush]:
        """The records of running pushed campaigns leased to these agents now (what their
        channels must have been told about)."""
        with self.uow.read() as tx:
            return tx.agents.held_pushes(agent_ids)

    # --- getting a record ---------------------------------------------------------------------

    def get_record(self, agent: Actor, campaign_id: int) -> Delivery | NoRecord:
        """Get Record: the record the agent already holds here, else their next one."""
        return getrecord.get_record(self, agent, campaign_id)

    def deliveries(self, agent: Actor) -> list[Delivery]:
        """Every record delivered to the agent now (what a reconnecting client resumes)."""
        return getrecord.deliveries(self, agent)

    def delivery(self, agent: Actor, campaign_id: int, record_id: int) -> Delivery:
        """A record delivered to the agent (404 for any other record)."""
        return getrecord.delivered(self, agent, campaign_id, record_id)

    def keepalive(self, agent: Actor, campaign_id: int, record_id: int) -> datetime:
        """Keep a delivered record: its lease runs for the lease timeout from now."""
        return getrecord.keepalive(self, agent, campaign_id, record_id)

    # --- pushed delivery ----------------------------------------------------------------------

    def push_many(
        self, campaign_id: int, agent_ids: Sequence[int], *, shared: bool
    ) -> tuple[list[tuple[int, int]], bool]:
        """Push the next record to each of these waiting agents (see
        :func:`~callhopper.core.dispensing.push.push_many`)."""
        return push.push_many(self, campaign_id, agent_ids, shared=shared)

    def accept(self, agent: Actor, campaign_id: int, record_id: int) -> DialResult | None:
        """Accept a pushed record. In direct push preview accepting dials it."""
        return push.accept(self, agent, campaign_id, record_id)

    def reject(self, agent: Actor, campaign_id: int, record_id: int) -> None:
        """Reject a pushed record: back to the top of the list; in push preview the agent
        is set not ready on outbound_preview."""
        push.reject(self, agent, campaign_id, record_id)

    def expire_unaccepted(self) -> int:
        """Pushed records not accepted in time go back on top; their agents, not ready."""
        return push.expire_unaccepted(self)

    def auto_dial_due(self) -> int:
        """Preview timeout: records previewed that long are dialled for the agent."""
        return push.auto_dial_due(self)

    # --- callbacks ----------------------------------------------------------------------------

    def schedule_callback(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        at: datetime,
        kind: str,
        number: str | None = None,
        note: str = "",
    ) -> ScheduledCallback:
        """Schedule (or change) the record's callback; it applies at Done."""
        return callbacks.schedule_callback(
            self, agent, campaign_id, record_id, at=at, kind=kind, number=number, note=note
        )

    def cancel_callback(self, agent: Actor, campaign_id: int, record_id: int) -> bool:
        """Cancel the callback scheduled on the record; whether there was one."""
        return callbacks.cancel_callback(self, agent, campaign_id, record_id)

    # --- actions on a delivered record --------------------------------------------------------

    def call(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        phone_index: int | None = None,
        number: str | None = None,
        caller_id: str | None = None,
        auto: bool = False,
    ) -> DialResult:
        """Call: validate the record's numbers, then dial the first that may be dialled
        (see :mod:`~callhopper.core.dispensing.calls`)."""
        return calls.call(
            self,
            agent,
            campaign_id,
            record_id,
            phone_index=phone_index,
            number=number,
            caller_id=caller_id,
            auto=auto,
        )

    def skip(self, agent: Actor, campaign_id: int, record_id: int) -> None:
        """Skip: the record waits for the next pass, or goes to the back of the order."""
        wrapup.skip(self, agent, campaign_id, record_id)

    def decline(self, agent: Actor, campaign_id: int, record_id: int, action: str) -> None:
        """Decline: ``call_later`` or ``do_not_call``."""
        wrapup.decline(self, agent, campaign_id, record_id, action)

    def wrapup(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        code: str,
        note: str = "",
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Choose the wrap-up (code, note, field edits); Done applies it."""
        wrapup.wrapup(self, agent, campaign_id, record_id, code=code, note=note, fields=fields)

    def done(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        code: str | None = None,
        note: str | None = None,
        fields: Mapping[str, Any] | None = None,
        stop: bool = False,
    ) -> None:
        """Done (or Done and Stop): apply the wrap-up and close the record for this pass."""
        wrapup.done(
            self, agent, campaign_id, record_id, code=code, note=note, fields=fields, stop=stop
        )
