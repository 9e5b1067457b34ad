"""The dialing engine's loop: per running automatic campaign whose pacing lease this process
holds, how many calls to place, placing them, and what to do with each call's events.

One :class:`DialerEngine` runs in one asyncio event loop (its own thread in ``callhopper
serve``, the main one in ``callhopper dialer`` and ``callhopper simulate``). Its database
work is synchronous and short (one transaction per step), so that the same code runs in
simulated time, where a transaction takes no time at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from callhopper.core.dialer.dialing import Campaign, Dialing, NextCall
from callhopper.domain.calls import (
    AgentLine,
    Answered,
    CallEvent,
    CallId,
    CallOutcome,
    DialRequest,
    HungUp,
    LinesExhausted,
    TelephonyError,
    Unanswered,
    UnknownCall,
)
from callhopper.domain.campaigns import DialingMode, MachineAction
from callhopper.domain.dialer import CONNECT_GRACE_S, CallResult, unanswered_result
from callhopper.domain.pacing import (
    Pacer,
    PacingObservation,
    PacingTarget,
    PredictivePacer,
    ProgressivePacer,
)
from callhopper.ports.telephony import Telephony

log = logging.getLogger(__name__)

#: Seconds between two pacing rounds when nothing wakes the engine.
DEFAULT_TICK_S = 1.0
#: How long a pacing lease lasts unless renewed (renewed three times in that time).
DEFAULT_LEASE_TTL_S = 10.0
#: A campaign of the predictive kind is paced at least this often (its pacer's recheck);
#: progressive campaigns only when something changed, or every :data:`IDLE_PACE_S`.
PREDICTIVE_PACE_S = 1.0
IDLE_PACE_S = 5.0


def default_line(agent_id: int) -> AgentLine:
    """An agent's line as the adapters built in know it: ``agent-<id>``."""
    return AgentLine(str(agent_id), f"agent-{agent_id}")


@dataclass
class LiveCall:
    """A call this process placed and has not seen the end of."""

    call: NextCall
    campaign: Campaign
    placed_s: float
    answered_s: float | None = None
    #: Bridged to this agent.
    agent_id: int | None = None
    #: Its result is recorded (connected, abandoned, a machine); the line may still be up.
    settled: bool = False
    #: Handed to :attr:`agent_id`, and the telephony's bridge has not answered yet.
    bridging: bool = False
    #: The line hung up while :attr:`bridging` (the bridge's end decides what it was).
    hung_up: bool = False


@dataclass
class CampaignFloor:
    """What the engine knows of one campaign it paces."""

    campaign: Campaign
    #: Calls placed and not yet answered or resolved.
    ringing: dict[CallId, LiveCall] = field(default_factory=dict)
    #: Calls answered by a person, waiting for an agent (predictive), oldest first.
    waiting: dict[CallId, LiveCall] = field(default_factory=dict)
    #: Agent -> when their call was bridged.
    talking: dict[int, float] = field(default_factory=dict)
    #: Agent -> when their call ended (they wrap up until they are available again).
    wrapping: dict[int, float] = field(default_factory=dict)


@dataclass
class EngineStats:
    """What this engine did since it started (the simulator's report reads it)."""

    dialled: int = 0
    answered_person: int = 0
    answered_machine: int = 0
    connected: int = 0
    abandoned: int = 0
    unanswered: int = 0
    not_placed: int = 0


def default_pacer(campaign: Campaign) -> Pacer:
    """The predictive pacer for a predictive campaign's target; the progressive one else."""
    if not campaign.mode.dials_ahead:
        return ProgressivePacer()
    target = PacingTarget(
        abandon_rate=campaign.abandon_target,
        connect_grace_s=CONNECT_GRACE_S,
        ring_timeout_s=float(campaign.ring_timeout_s),
    )
    return PredictivePacer(target)


class DialerEngine:
    """Paces the campaigns this process holds the lease of (see the module)."""

    def __init__(
        self,
        dialing: Dialing,
        telephony: Telephony,
        *,
        pacer: Callable[[Campaign], Pacer] = default_pacer,
        line_of: Callable[[int], AgentLine] = default_line,
        tick_s: float = DEFAULT_TICK_S,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.dialing = dialing
        self.telephony = telephony
        self.pacer = pacer
        self.line_of = line_of
        self.tick_s = tick_s
        self.lease_ttl_s = lease_ttl_s
        self.stats = EngineStats()
        self.floors: dict[int, CampaignFloor] = {}
        self._pacers: dict[int, Pacer] = {}
        self._day: dict[int, date] = {}
        self._calls: dict[CallId, LiveCall] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._housekept_s = -math.inf
        self._bridging: set[asyncio.Task[None]] = set()
        #: The grace timers of answered calls waiting for an agent (kept referenced: the
        #: loop holds only weak references to its tasks).
        self._timers: set[asyncio.Task[None]] = set()
        self._paced_s: dict[int, float] = {}
        self._woken = True

    # --- control ------------------------------------------------------------------------------

    def wake(self, _campaign_id: int = 0) -> None:
        """Something changed (an agent became free, a campaign started): pace now. Safe to
        call from any thread."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                self._woken = True
                event.set()
                return
        except RuntimeError:
            pass
        loop.call_soon_threadsafe(self._set_woken)

    def _set_woken(self) -> None:
        self._woken = True
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        """End :meth:`run` after the current round (from any thread)."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        """Pace until :meth:`stop`; then give the leases up and close the telephony."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        events = asyncio.create_task(self._consume())
        try:
            while not self._stopping:
                try:
                    await self.round()
                except Exception:  # one bad round must not stop the dialing
                    log.exception("dialing round failed")
                delay = CONNECT_GRACE_S / 8 if self._any_waiting() else self.tick_s
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            for campaign_id in list(self.floors):
                self.dialing.give_up(campaign_id)
            await self.telephony.close()
            for timer in self._timers:
                timer.cancel()
            await asyncio.gather(*self._bridging, *self._timers, return_exceptions=True)
            await events

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # --- pacing -------------------------------------------------------------------------------

    async def round(self) -> None:
        """One round: every third of the lease's time, take or renew each running
        campaign's lease and recover what a dead process left; then, in the campaigns held,
        connect or abandon answered calls and place new calls."""
        now = self._now()
        woken, self._woken = self._woken, False
        if now - self._housekept_s >= self.lease_ttl_s / 3:
            self._housekept_s = now
            self._housekeeping()
        for floor in list(self.floors.values()):
            since = now - self._paced_s.get(floor.campaign.id, -math.inf)
            every = PREDICTIVE_PACE_S if floor.campaign.mode.dials_ahead else IDLE_PACE_S
            if woken or floor.waiting or since >= every:
                self._paced_s[floor.campaign.id] = now
                await self._pace(floor)

    def _housekeeping(self) -> None:
        running = {c.id: c for c in self.dialing.running()}
        for campaign_id in list(self.floors):
            if campaign_id not in running:
                self._drop(campaign_id)
        for campaign in running.values():
            if not self.dialing.pace_lease(campaign.id, self.lease_ttl_s):
                if campaign.id in self.floors:
                    self._drop(campaign.id)  # another process took it over
                continue
            floor = self.floors.get(campaign.id)
            if floor is None:
                floor = self.floors[campaign.id] = CampaignFloor(campaign)
                self._pacers[campaign.id] = self.pacer(campaign)
            floor.campaign = campaign
            self.dialing.recover(campaign.id)

    def _drop(self, campaign_id: int) -> None:
        """Stop pacing a campaign; its calls in flight here still get their outcomes."""
        self.floors.pop(campaign_id, None)
        self._pacers.pop(campaign_id, None)
        self._day.pop(campaign_id, None)
        self._paced_s.pop(campaign_id, None)

    async def _pace(self, floor: CampaignFloor) -> None:
        available = self.dialing.available(floor.campaign.id)
        pacer = self._pacers[floor.campaign.id]
        for agent_id in available:
            ended = floor.wrapping.pop(agent_id, None)
            if ended is not None:
                pacer.wrap_ended(self._now() - ended, self._now())
        campaign = floor.campaign
        if campaign.personal_callbacks and available:
            # First: an agent free while a personal callback of theirs is due gets it now
            # (else, on a busy floor, the calls waiting for agents would take them again
            # and again, and the callback would wait for a moment nobody is waiting).
            available = await self._dial_personal(floor, available)
        available = await self._connect_waiting(floor, available)
        await self._abandon_overdue(floor)
        if campaign.per_agent or campaign.mode is DialingMode.PROGRESSIVE:
            # One call per available agent, claimed for that agent: only records they may
            # have (their own, or unowned), and the answered call goes to them.
            for agent_id in available:
                call = self.dialing.next_call(campaign.id, agent_id)
                if call is not None and not await self._place(floor, call):
                    return
            return
        pacer = self._pacers[campaign.id]
        now = self._now()
        today = self.dialing.clock.now().date()
        if self._day.get(campaign.id) != today:
            self._day[campaign.id] = today
            pacer.start_day(now)
        # A call dialled for one agent (a personal callback) is not the pacer's: its answer
        # needs no free agent, and its agent, who waits for it, is not free for the others.
        pooled = [
            now - live.placed_s for live in floor.ringing.values() if live.call.agent_id is None
        ]
        waiting_for_own = len(floor.ringing) - len(pooled)
        observation = PacingObservation(
            now_s=now,
            agents_logged_in=len(available)
            + len(floor.talking)
            + len(floor.wrapping)
            + waiting_for_own,
            agents_free=len(available),
            talking_s=[now - t for t in floor.talking.values()],
            wrapping_s=[now - t for t in floor.wrapping.values()],
            ringing_s=pooled,
            waiting=len(floor.waiting),
        )
        for _ in range(pacer.decide(observation).calls):
            call = self.dialing.next_call(campaign.id, None)
            if call is None or not await self._place(floor, call):
                return

    async def _dial_personal(self, floor: CampaignFloor, available: list[int]) -> list[int]:
        """Dial the due personal callbacks of free agents, each for its agent (the claim
        Get Record would make for them, which takes a due callback first): the answered
        call goes to that agent, who waits for it. Returns the agents left for the pacer."""
        left = list(available)
        for agent_id in self.dialing.personal_due(floor.campaign.id, available):
            call = self.dialing.next_call(floor.campaign.id, agent_id)
            if call is None:
                continue
            left.remove(agent_id)
            if not await self._place(floor, call):
                break
        return left

    async def _place(self, floor: CampaignFloor, call: NextCall) -> bool:
        """Originate; False when the network has no line free (stop placing for now)."""
        live = LiveCall(call, floor.campaign, self._now())
        self._calls[call.call_id] = live
        floor.ringing[call.call_id] = live
        request = DialRequest(
            call.call_id, call.number, call.caller_id, float(floor.campaign.ring_timeout_s)
        )
        try:
            await self.telephony.originate(request)
        except (LinesExhausted, TelephonyError) as exc:
            log.info("call not placed: %s", exc)
            self._forget(live)
            self.dialing.not_placed(call)
            self.stats.not_placed += 1
            return False
        self.stats.dialled += 1
        return True

    def _forget(self, live: LiveCall) -> None:
        self._calls.pop(live.call.call_id, None)
        floor = self.floors.get(live.campaign.id)
        if floor is not None:
            floor.ringing.pop(live.call.call_id, None)
            floor.waiting.pop(live.call.call_id, None)

    def _any_waiting(self) -> bool:
        return any(floor.waiting for floor in self.floors.values())

    # --- answered calls -----------------------------------------------------------------------

    async def _connect_waiting(self, floor: CampaignFloor, available: list[int]) -> list[int]:
        """Bridge waiting calls to available agents, longest waits first on both sides;
        returns the agents left."""
        left = list(available)
        for live in list(floor.waiting.values()):
            while left and live.call.call_id in floor.waiting:
                agent_id = left.pop(0)
                await self._bridge(floor, live, agent_id)
            if not left:
                break
        return left

    async def _bridge(self, floor: CampaignFloor, live: LiveCall, agent_id: int) -> bool:
        if not self.dialing.connect(live.call, agent_id):
            return False
        floor.waiting.pop(live.call.call_id, None)
        live.agent_id = agent_id
        live.settled = True
        live.bridging = True
        floor.talking[agent_id] = self._now()
        # In its own task: an agent's phone may take a while to answer (the SIP adapter waits
        # up to 10 s), and meanwhile the other calls' events and pacing go on.
        task = asyncio.get_running_loop().create_task(self._line_up(floor, live, agent_id))
        self._bridging.add(task)
        task.add_done_callback(self._bridging.discard)
        return True

    async def _line_up(self, floor: CampaignFloor, live: LiveCall, agent_id: int) -> None:
        """Bridge the call to the agent it was handed to; when the bridge fails the call
        was not connected after all (:meth:`_not_bridged`)."""
        reachable = False
        try:
            await self.telephony.bridge(live.call.call_id, self.line_of(agent_id))
        except UnknownCall:
            reachable = True  # the contact hung up before the agent was on the line
        except TelephonyError as exc:
            # The agent's line did not take the call (their phone is not registered, it
            # refused, they are gone).
            log.warning("call %s did not reach agent %s: %s", live.call.call_id, agent_id, exc)
        except Exception:  # a task's failure is otherwise never seen
            log.exception("bridging call %s to agent %s failed", live.call.call_id, agent_id)
        else:
            live.bridging = False
            self.stats.connected += 1
            if live.hung_up:
                await self._hung_up(floor, live)
            return
        live.bridging = False
        await self._not_bridged(floor, live, agent_id, reachable=reachable)

    async def _not_bridged(
        self, floor: CampaignFloor, live: LiveCall, agent_id: int, *, reachable: bool
    ) -> None:
        """A call handed to an agent that never reached them is abandoned: the contact, if
        still on the line, hears the campaign's message (never silence); the record is
        retried; the agent holds nothing (and is set not ready when their line failed)."""
        floor.talking.pop(agent_id, None)
        live.agent_id = None
        played = False
        if not live.hung_up:
            try:
                await self.telephony.play_and_hang_up(
                    live.call.call_id, live.campaign.abandon_message
                )
                played = True
            except UnknownCall:
                pass  # the contact hung up meanwhile
            except TelephonyError as exc:
                log.warning("call %s: the message did not play: %s", live.call.call_id, exc)
                with contextlib.suppress(TelephonyError):
                    await self.telephony.hang_up(live.call.call_id)
        self.stats.abandoned += 1
        self._abandoned(live)
        self.dialing.not_bridged(live.call, agent_id, message_played=played, reachable=reachable)
        self.wake()

    async def _abandon_overdue(self, floor: CampaignFloor) -> None:
        now = self._now()
        for live in list(floor.waiting.values()):
            if live.answered_s is not None and now - live.answered_s >= CONNECT_GRACE_S:
                await self._abandon(floor, live)

    async def _abandon(self, floor: CampaignFloor, live: LiveCall) -> None:
        floor.waiting.pop(live.call.call_id, None)
        live.settled = True
        played = True
        try:
            await self.telephony.play_and_hang_up(live.call.call_id, live.campaign.abandon_message)
        except UnknownCall:
            played = False  # the contact hung up first
        self.stats.abandoned += 1
        self._abandoned(live)
        self.dialing.finish(live.call, CallResult.ABANDONED, message_played=played)

    def _abandoned(self, live: LiveCall) -> None:
        pacer = self._pacers.get(live.campaign.id)
        if pacer is not None:
            pacer.abandoned(self._now())

    async def _grace_ended(self, campaign_id: int) -> None:
        await asyncio.sleep(CONNECT_GRACE_S)
        self.wake()

    # --- events -------------------------------------------------------------------------------

    async def _consume(self) -> None:
        async for event in self.telephony.events():
            try:
                await self._on_event(event)
            except Exception:  # one call's trouble must not stop the others' events
                log.exception("handling %s failed", event)

    async def _on_event(self, event: CallEvent) -> None:
        live = self._calls.get(event.call_id)
        if live is None:
            return
        floor = self.floors.get(live.campaign.id) or CampaignFloor(live.campaign)
        pacer = self._pacers.get(live.campaign.id)
        now = self._now()
        if isinstance(event, Answered):
            floor.ringing.pop(event.call_id, None)
            live.answered_s = now
            if pacer is not None:
                pacer.call_resolved(event.by, now - live.placed_s, now)
            await self._answered(floor, live, event.by)
        elif isinstance(event, Unanswered):
            if pacer is not None:
                pacer.call_resolved(event.outcome, now - live.placed_s, now)
            self._forget(live)
            self.stats.unanswered += 1
            self.dialing.finish(live.call, unanswered_result(event.outcome), code=event.code)
            self.wake()
        elif isinstance(event, HungUp):
            await self._hung_up(floor, live)

    async def _answered(self, floor: CampaignFloor, live: LiveCall, by: CallOutcome) -> None:
        campaign = live.campaign
        action = MachineAction(campaign.machine_action)
        if by is CallOutcome.MACHINE and action is not MachineAction.CONNECT:
            self.stats.answered_machine += 1
            self.dialing.answered(live.call.call_id, CallOutcome.MACHINE.value)
            live.settled = True
            played = False
            try:
                if action is MachineAction.MESSAGE:
                    await self.telephony.play_and_hang_up(
                        live.call.call_id, campaign.machine_message
                    )
                    played = True
                else:
                    await self.telephony.hang_up(live.call.call_id)
            except UnknownCall:
                pass
            self.dialing.finish(live.call, CallResult.MACHINE, message_played=played)
            self.wake()
            return
        self.stats.answered_person += 1
        self.dialing.answered(live.call.call_id, CallOutcome.PERSON.value)
        if live.call.agent_id is not None:
            # Dialled for this agent (progressive): they wait for it.
            if await self._bridge(floor, live, live.call.agent_id):
                return
            await self._abandon(floor, live)
            return
        floor.waiting[live.call.call_id] = live
        available = self.dialing.available(campaign.id)
        if campaign.personal_callbacks and available:
            # An agent with a personal callback due is kept for it (the next round dials it).
            due = self.dialing.personal_due(campaign.id, available)
            if due:
                available = [agent_id for agent_id in available if agent_id not in due]
                self.wake()
        await self._connect_waiting(floor, available)
        if live.call.call_id in floor.waiting:
            timer = asyncio.get_running_loop().create_task(self._grace_ended(campaign.id))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)

    async def _hung_up(self, floor: CampaignFloor, live: LiveCall) -> None:
        self._forget(live)
        if not live.settled:
            # Answered, waiting for an agent, and the contact hung up: abandoned, with no
            # message (nobody was left to hear it).
            floor.waiting.pop(live.call.call_id, None)
            self.stats.abandoned += 1
            self._abandoned(live)
            self.dialing.finish(live.call, CallResult.ABANDONED)
            return
        if live.bridging:
            live.hung_up = True  # the bridge's end says whether it was connected first
            return
        agent_id = live.agent_id
        if agent_id is not None:
            bridged = floor.talking.pop(agent_id, None)
            floor.wrapping[agent_id] = self._now()
            pacer = self._pacers.get(live.campaign.id)
            if bridged is not None and pacer is not None:
                pacer.talk_ended(self._now() - bridged, self._now())
        self.dialing.ended(live.call.call_id, agent_id, live.call.campaign_id, live.call.record_id)
