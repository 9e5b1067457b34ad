"""The SIP adapter: the telephony port over a pool of PJSUA2 worker processes.

:class:`SipTelephony` runs on the dialer's event loop and never touches PJSUA2 itself: it
chooses a worker for each call, sends it commands and turns its reports into the port's
events. How the SIP outcomes map:

==============================================  ==========================================
SIP                                             port event
==============================================  ==========================================
180 / 183                                       ``Ringing``
200 (detection off, or its verdict person or    ``Answered(by=PERSON)``
unknown)
200, detection says machine                     ``Answered(by=MACHINE)``
486, 600                                        ``Unanswered(BUSY, code)``
ring timeout reached (CANCEL, 487)              ``Unanswered(NO_ANSWER, "487")``
any other final failure (401/403 after our      ``Unanswered(FAILED, code)``
credentials, 404, 408, 480, 503, …)
BYE from the customer / the agent               ``HungUp(by=CONTACT / AGENT)``
our BYE (``hang_up``, end of a message)         ``HungUp(by=ENGINE)``
the worker holding the call died                ``Unanswered(FAILED, "worker-lost")``
                                                before an answer was reported, else
                                                ``HungUp(by=NETWORK)``
==============================================  ==========================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from callhopper.domain.calls import (
    AgentLine,
    Answered,
    CallEvent,
    CallId,
    CallOutcome,
    DialRequest,
    HungUp,
    LinesExhausted,
    Party,
    Ringing,
    TelephonyError,
    Unanswered,
    UnknownCall,
)
from callhopper.ports.clock import Clock
from callhopper.telephony.sip.config import PJSUA_MAX_CALLS, WorkerConfig
from callhopper.telephony.sip.pool import WorkerHandle, WorkerPool
from callhopper.telephony.sip.protocol import Message
from callhopper.telephony.sip.sounds import message_file

log = logging.getLogger(__name__)

#: Calls to customers one worker carries at once: each keeps a slot free for the agent leg
#: it will be bridged to, in the same process (``docs/adr/0007-sip-process-layout.md``).
CUSTOMER_CALLS_PER_WORKER = PJSUA_MAX_CALLS // 2
#: The code of an ``Unanswered(FAILED)`` for a call whose worker died before it was answered.
WORKER_LOST = "worker-lost"
#: How long an agent's phone may take to answer a bridge before it counts as unreachable.
BRIDGE_TIMEOUT_S = 10.0


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class AgentUnreachable(TelephonyError):
    """The agent's line did not answer the bridge (not registered, rejected, timed out); the
    customer's call is still up: the engine may bridge it elsewhere or play its message."""

    code = "agent_unreachable"


@dataclass(eq=False)
class _Call:
    request: DialRequest
    worker: WorkerHandle
    detect: bool
    answered: bool = False  # an Answered event was emitted
    ended: bool = False
    bridge: asyncio.Future[int] | None = None
    bridge_ms: list[int] = field(default_factory=list)


class SipTelephony:
    """Implements :class:`callhopper.ports.telephony.Telephony` with SIP worker processes."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        workers: int,
        launcher: Sequence[str] = (),
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or _UtcClock()
        self.pool = WorkerPool(
            config,
            workers=workers,
            launcher=launcher,
            on_message=self._on_message,
            on_lost=self._on_lost,
        )
        self._calls: dict[str, _Call] = {}
        self._events: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        #: Answer-to-bridge times of bridged calls, in milliseconds (for the benchmark).
        self.bridge_times_ms: list[int] = []
        self.lost_calls = 0

    async def start(self) -> None:
        await self.pool.start()

    @property
    def lines(self) -> int:
        return self.pool.size * CUSTOMER_CALLS_PER_WORKER

    # --- the port -------------------------------------------------------------------

    async def originate(
        self, request: DialRequest, *, detect: bool | None = None, record: bool = False
    ) -> None:
        """The port's ``originate``; ``detect`` (default: the adapter's setting) and
        ``record`` are the per-call options the port does not carry yet. A recording of both
        parties goes to ``recordings_dir/<call id>.wav``; without ``record`` nothing is."""
        if request.call_id in self._calls:
            raise TelephonyError(f"call {request.call_id} was already originated")
        free = [w for w in self.pool.live() if len(w.calls) < CUSTOMER_CALLS_PER_WORKER]
        if not free:
            raise LinesExhausted(f"all {self.lines} SIP lines are in use")
        worker = min(free, key=lambda w: (len(w.calls), w.number))
        if record and not self.config.recordings_dir:
            raise TelephonyError("recording asked for, but no recordings_dir is configured")
        detect = self.config.detector.enabled if detect is None else detect
        call = _Call(request=request, worker=worker, detect=detect)
        self._calls[request.call_id] = call
        worker.calls.add(request.call_id)
        try:
            worker.send(
                {
                    "op": "originate",
                    "call": request.call_id,
                    "to": request.number,
                    "caller_id": request.caller_id,
                    "ring_timeout_s": request.ring_timeout_s,
                    "detect": call.detect,
                    "record": record,
                }
            )
        except ConnectionError as exc:
            worker.calls.discard(request.call_id)
            del self._calls[request.call_id]
            raise TelephonyError(str(exc)) from exc

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def bridge(self, call_id: CallId, agent: AgentLine) -> None:
        call = self._answered(call_id)
        if call.bridge is not None:
            raise TelephonyError(f"call {call_id} is already being bridged")
        call.bridge = asyncio.get_running_loop().create_future()
        self._send(call, {"op": "bridge", "call": call_id, "agent": agent.address})
        try:
            await asyncio.wait_for(asyncio.shield(call.bridge), BRIDGE_TIMEOUT_S)
        except TimeoutError:
            raise AgentUnreachable(
                f"agent {agent.agent_id} did not answer within {BRIDGE_TIMEOUT_S:g} s"
            ) from None
        finally:
            call.bridge = None

    async def play_and_hang_up(self, call_id: CallId, message: str) -> None:
        call = self._answered(call_id)
        self._send(call, {"op": "play", "call": call_id, "file": message_file(message)})

    async def hang_up(self, call_id: CallId) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            return
        with contextlib.suppress(ConnectionError):
            call.worker.send({"op": "hangup", "call": call_id})

    async def close(self) -> None:
        await self.pool.close()
        for call in list(self._calls.values()):
            self._end_lost(call)
        self._events.put_nowait(None)

    # --- helpers --------------------------------------------------------------------

    def _answered(self, call_id: CallId) -> _Call:
        call = self._calls.get(call_id)
        if call is None or call.ended or not call.answered:
            raise UnknownCall(f"call {call_id} is not answered or has ended")
        return call

    def _send(self, call: _Call, message: Message) -> None:
        try:
            call.worker.send(message)
        except ConnectionError as exc:
            raise UnknownCall(f"call {call.request.call_id} was lost with its worker") from exc

    def _emit(self, event: CallEvent) -> None:
        self._events.put_nowait(event)

    def _finish(self, call: _Call) -> None:
        call.ended = True
        call.worker.calls.discard(call.request.call_id)
        self._calls.pop(call.request.call_id, None)
        if call.bridge is not None and not call.bridge.done():
            call.bridge.set_exception(UnknownCall(f"call {call.request.call_id} ended"))

    def _on_message(self, worker: WorkerHandle, message: Message) -> None:
        kind = message.get("ev")
        call = self._calls.get(str(message.get("call", "")))
        if call is None or call.worker is not worker:
            return
        now = self.clock.now()
        call_id = call.request.call_id
        if kind == "ringing":
            self._emit(Ringing(call_id, now))
        elif kind == "answered" and not call.detect:
            call.answered = True
            self._emit(Answered(call_id, now, CallOutcome.PERSON))
        elif kind == "detected" and not call.answered:
            call.answered = True
            by = CallOutcome.MACHINE if message["result"] == "machine" else CallOutcome.PERSON
            self._emit(Answered(call_id, now, by))
        elif kind == "unanswered":
            self._finish(call)
            self._emit(
                Unanswered(call_id, now, CallOutcome(message["outcome"]), str(message["code"]))
            )
        elif kind == "hungup":
            if not call.answered:
                # Hung up while the detector listened: the answer is reported first, as
                # the port promises one HungUp after every Answered.
                self._emit(Answered(call_id, now, CallOutcome.PERSON))
            self._finish(call)
            self._emit(HungUp(call_id, now, Party(message["by"])))
        elif kind == "bridged":
            self.bridge_times_ms.append(int(message["ms"]))
            if call.bridge is not None and not call.bridge.done():
                call.bridge.set_result(int(message["ms"]))
        elif kind == "bridge_failed":
            if call.bridge is not None and not call.bridge.done():
                call.bridge.set_exception(
                    AgentUnreachable(f"the agent's line answered {message['code']}")
                )
        elif kind == "error":
            log.warning("SIP worker %s: %s", worker.number, message.get("message"))
            if call.bridge is not None and not call.bridge.done():
                call.bridge.set_exception(TelephonyError(str(message.get("message"))))

    def _on_lost(self, worker: WorkerHandle) -> None:
        for call_id in list(worker.calls):
            call = self._calls.get(call_id)
            if call is not None:
                self._end_lost(call)
        worker.calls.clear()

    def _end_lost(self, call: _Call) -> None:
        if call.ended:
            return
        self.lost_calls += 1
        self._finish(call)
        now = self.clock.now()
        if call.answered:
            self._emit(HungUp(call.request.call_id, now, Party.NETWORK))
        else:
            self._emit(Unanswered(call.request.call_id, now, CallOutcome.FAILED, WORKER_LOST))
