"""Simulated agents: they log in, get ready, take the calls the engine connects to them,
wrap up for a while and click Done, all through the dispensing core, as the workspace
does. They hear of their calls as a real client does: from the agent events the core
publishes (they are the events port of the simulation's dispenser)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import Channel
from callhopper.domain.errors import CallhopperError
from callhopper.domain.events import AgentEvent
from callhopper.ports.transactions import Transaction

#: The wrap-up code simulated agents choose after a conversation.
SIM_CODE = "not_interested"


class LoopClock:
    """The clock of the event loop it is read in: ``start`` plus the loop's elapsed time (in
    simulated time, simulated seconds)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._t0: float | None = None

    def now(self) -> datetime:
        loop_time = asyncio.get_running_loop().time()
        if self._t0 is None:
            self._t0 = loop_time
        return self.start + timedelta(seconds=loop_time - self._t0)


@dataclass
class AgentLog:
    """What one simulated agent did (seconds)."""

    logged_in_s: float = 0.0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    waits: list[float] = field(default_factory=list)
    calls: int = 0
    #: When they became free, or got their call, or ended it (loop time).
    free_since: float | None = None
    talk_since: float | None = None


class SimAgents:
    """The simulated agents of one campaign (see the module)."""

    def __init__(
        self,
        dispenser: Dispenser,
        campaign_id: int,
        agents: dict[int, Actor],
        wrap_time: Callable[[], float],
    ) -> None:
        self.dispenser = dispenser
        self.campaign_id = campaign_id
        self.agents = agents
        self.wrap_time = wrap_time
        self.logs = {agent_id: AgentLog() for agent_id in agents}
        #: Called when an agent is free again (wakes the engine).
        self.on_free: Callable[[], None] = lambda: None
        #: (agent, record) of every call connected, in order (what the tests check).
        self.connected: list[tuple[int, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged_in: set[int] = set()
        self._since: dict[int, float] = {}

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def log_in(self, agent_ids: list[int] | None = None) -> None:
        """Log in, get ready on voice and turn Get Record on."""
        for agent_id in list(self.agents) if agent_ids is None else agent_ids:
            actor = self.agents[agent_id]
            self.dispenser.login(actor, self.campaign_id)
            self.dispenser.set_channel(actor, Channel.VOICE, True)
            self.dispenser.get_record(actor, self.campaign_id)
            self._logged_in.add(agent_id)
            self._since[agent_id] = self._now()
            self.logs[agent_id].free_since = self._now()
        self.on_free()

    def log_out(self, agent_ids: list[int]) -> None:
        """Not ready (a call in progress is finished first: Done does not bring another)."""
        for agent_id in agent_ids:
            self.dispenser.set_channel(self.agents[agent_id], Channel.VOICE, False)
            self._close_session(agent_id)

    def _close_session(self, agent_id: int) -> None:
        if agent_id in self._logged_in:
            self._logged_in.discard(agent_id)
            self.logs[agent_id].logged_in_s += self._now() - self._since.pop(agent_id)
            self.logs[agent_id].free_since = None

    def finish(self) -> None:
        """The day is over: close the books of agents still logged in."""
        for agent_id in list(self._logged_in):
            self._close_session(agent_id)

    def on_floor(self) -> tuple[int, int]:
        """Agents logged in now, and how many of them are talking or wrapping up."""
        busy = sum(1 for a in self._logged_in if self.logs[a].free_since is None)
        return len(self._logged_in), busy

    # The events port ---------------------------------------------------------------------

    def publish(self, event: AgentEvent, tx: Transaction | None = None) -> None:
        if tx is not None:
            tx.on_commit(lambda: self._dispatch(event))
        else:
            self._dispatch(event)

    def _dispatch(self, event: AgentEvent) -> None:
        log = self.logs.get(event.agent_id)
        if log is None or event.campaign_id != self.campaign_id:
            return
        now = self._now()
        if event.kind == "delivery" and event.reason == "call_connected":
            assert event.record_id is not None
            self.connected.append((event.agent_id, event.record_id))
            if log.free_since is not None:
                log.waits.append(now - log.free_since)
            log.free_since = None
            log.talk_since = now
            log.calls += 1
        elif event.kind == "delivery_ended" and log.talk_since is not None:
            # The call connected to them never reached their line: no talk, no wrap-up.
            log.talk_since = None
            log.calls -= 1
            if event.agent_id in self._logged_in:
                log.free_since = now
        elif event.kind == "call_ended" and event.record_id is not None:
            if log.talk_since is not None:
                log.talk_s += now - log.talk_since
                log.talk_since = None
            task = asyncio.get_running_loop().create_task(
                self._wrap_up(event.agent_id, event.record_id)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _wrap_up(self, agent_id: int, record_id: int) -> None:
        wrap = self.wrap_time()
        await asyncio.sleep(wrap)
        self.logs[agent_id].wrap_s += wrap
        try:
            self.dispenser.done(self.agents[agent_id], self.campaign_id, record_id, code=SIM_CODE)
        except CallhopperError:
            pass  # the record was taken back meanwhile (it cannot be here: logged)
        if agent_id in self._logged_in:
            self.logs[agent_id].free_since = self._now()
        self.on_free()
