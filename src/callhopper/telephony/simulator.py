"""The built-in telephony simulator: a telephone network made of parameters and a seed.

:class:`SimulatedTelephony` implements the telephony port. Every call it places gets a
*fate* drawn from :class:`SimulatorParams`: who answers (a person, a machine, nobody) or how
it fails, when, what answering-machine detection reports, and how long the contact talks
once bridged. It runs on the asyncio event loop it is used in:

* in **real time** on an ordinary loop (the demo, the pages), optionally ``speed`` times
  faster than life;
* in **simulated time** on a :class:`VirtualTimeLoop` (see :func:`run_simulated`), whose
  clock jumps to the next timer whenever nothing is ready to run, so that an eight-hour
  day of 100 agents takes seconds. Code run there must not wait on threads or sockets;
  a synchronous call (a database write) takes no simulated time.

The draws use a fixed number of random numbers per call from their own stream, so that two
runs with the same seed that place their calls in the same order see the same fates, even
when they place them at different times (common random numbers for benchmarks). The
parameters are documented in ``docs/dialing/simulator.md``.
"""

from __future__ import annotations

import asyncio
import math
import random
import selectors
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from statistics import NormalDist
from typing import Any, Protocol, TypeVar

from callhopper.domain.calls import (
    MIN_RING_TIMEOUT_S,
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

T = TypeVar("T")

_STANDARD_NORMAL = NormalDist()
#: Uniform draws are kept this far from 0 and 1, where inverse distribution functions blow up.
_U_EPS = 1e-12


# --- Distributions ------------------------------------------------------------------------


class Distribution(Protocol):
    """A distribution of durations in seconds, sampled by inversion (one uniform a draw)."""

    @property
    def mean(self) -> float: ...

    def cdf(self, x: float) -> float: ...

    def quantile(self, u: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value`` seconds."""

    value: float

    @property
    def mean(self) -> float:
        return self.value

    def cdf(self, x: float) -> float:
        return 1.0 if x >= self.value else 0.0

    def quantile(self, u: float) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform:
    """Evenly spread between ``low`` and ``high`` seconds."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError("Uniform needs 0 <= low <= high")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def cdf(self, x: float) -> float:
        if self.high == self.low:
            return 1.0 if x >= self.low else 0.0
        return min(1.0, max(0.0, (x - self.low) / (self.high - self.low)))

    def quantile(self, u: float) -> float:
        return self.low + u * (self.high - self.low)


@dataclass(frozen=True, slots=True)
class Exponential:
    """Memoryless, with the given mean in seconds."""

    mean_s: float

    def __post_init__(self) -> None:
        if self.mean_s <= 0:
            raise ValueError("Exponential needs a positive mean")

    @property
    def mean(self) -> float:
        return self.mean_s

    def cdf(self, x: float) -> float:
        return 0.0 if x <= 0 else 1.0 - math.exp(-x / self.mean_s)

    def quantile(self, u: float) -> float:
        return -self.mean_s * math.log1p(-min(u, 1.0 - _U_EPS))


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal with the given mean (seconds) and coefficient of variation (sd ÷ mean)."""

    mean_s: float
    cv: float

    def __post_init__(self) -> None:
        if self.mean_s <= 0 or self.cv <= 0:
            raise ValueError("LogNormal needs a positive mean and coefficient of variation")

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.cv * self.cv))

    @property
    def mu(self) -> float:
        return math.log(self.mean_s) - self.sigma**2 / 2

    def cdf(self, x: float) -> float:
        return 0.0 if x <= 0 else _STANDARD_NORMAL.cdf((math.log(x) - self.mu) / self.sigma)

    def quantile(self, u: float) -> float:
        u = min(max(u, _U_EPS), 1.0 - _U_EPS)
        return math.exp(self.mu + self.sigma * _STANDARD_NORMAL.inv_cdf(u))


# --- Parameters and fates -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimulatorParams:
    """What the simulated network and its contacts do. Shares are of all calls placed; the
    calls that are answered by nobody and do not fail fast ring until their timeout."""

    #: Share of calls a person answers.
    person_share: float = 0.15
    #: Share of calls an answering machine answers.
    machine_share: float = 0.25
    #: Share of calls that fail fast: busy, or refused by the network.
    fast_fail_share: float = 0.15
    #: Of the fast failures, the share that are busy (the others fail with ``fail_code``).
    busy_share_of_fast_fails: float = 0.4
    fail_code: str = "404"
    #: From originate to the phone ringing.
    setup_s: float = 2.0
    #: From ringing to the answer (a person or a machine), drawn below the ring timeout.
    answer_time: Distribution = LogNormal(mean_s=8.0, cv=0.6)
    #: From originate to a fast failure.
    fast_fail_time: Distribution = Uniform(0.5, 3.0)
    #: From the answer to the ``Answered`` event: answering-machine detection listening.
    detection_delay: Distribution = Constant(0.0)
    #: Share of persons that detection reports as machines, and of machines as persons.
    person_as_machine: float = 0.0
    machine_as_person: float = 0.0
    #: How long a person talks once bridged; then the contact hangs up.
    talk_time: Distribution = LogNormal(mean_s=150.0, cv=1.0)
    #: How long an agent bridged to a machine listens before hanging up.
    machine_talk_time: Distribution = Constant(5.0)
    #: An agent's wrap-up after a call (drawn by :meth:`FateSource.next_wrap_s` for
    #: simulated agents; the network itself does not use it).
    wrap_time: Distribution = Constant(20.0)
    #: How long an answered call waits for the engine (a bridge or a message) before the
    #: contact hangs up.
    patience_s: float = 10.0
    #: How long the abandoned-call message plays before the engine's hang-up.
    message_s: float = 8.0
    #: Calls that may be up at once (ringing or answered); ``None`` for no limit.
    lines: int | None = None
    #: Agents' line addresses that do not take a bridged call (a phone not registered, or
    #: unplugged): :meth:`SimulatedTelephony.bridge` fails for them, the contact stays on.
    unreachable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        shares = (self.person_share, self.machine_share, self.fast_fail_share)
        if any(s < 0 for s in shares) or sum(shares) > 1 + 1e-9:
            raise ValueError("the shares must be at least 0 and add up to at most 1")
        for name in ("busy_share_of_fast_fails", "person_as_machine", "machine_as_person"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.setup_s < 0 or self.patience_s < 0 or self.message_s < 0:
            raise ValueError("durations must be at least 0")
        if self.setup_s >= MIN_RING_TIMEOUT_S:
            raise ValueError(f"setup_s must be shorter than {MIN_RING_TIMEOUT_S:g} s")
        if self.lines is not None and self.lines < 1:
            raise ValueError("lines must be at least 1")

    @property
    def no_answer_share(self) -> float:
        return max(0.0, 1.0 - self.person_share - self.machine_share - self.fast_fail_share)


@dataclass(frozen=True, slots=True)
class CallFate:
    """What will happen to one call, drawn when it is placed."""

    #: The truth: who answered, or why nobody did.
    outcome: CallOutcome
    #: What the ``Answered`` event reports (detection may be wrong); ``None`` if unanswered.
    detected: CallOutcome | None
    #: From originate to the ``Answered`` or ``Unanswered`` event.
    resolve_after_s: float
    #: From originate to the ``Ringing`` event; ``None`` for a fast failure.
    ringing_after_s: float | None
    #: How long the bridged call lasts before the other side hangs up.
    talk_s: float
    #: The network's reason for a failure.
    code: str | None = None


#: Uniform draws consumed by every call, whatever its fate (common random numbers).
DRAWS_PER_CALL = 5


def draw_fate(
    params: SimulatorParams,
    u: tuple[float, float, float, float, float],
    ring_timeout_s: float,
    *,
    person_share: float | None = None,
) -> CallFate:
    """The fate of one call from ``DRAWS_PER_CALL`` uniforms: kind, time, detection,
    talk, detection delay. ``person_share`` overrides the parameter's (a drifting list); the
    calls it takes from or gives to the persons are no-answers."""
    u_kind, u_time, u_detect, u_talk, u_delay = u
    person = params.person_share if person_share is None else person_share
    machine = params.machine_share
    fast = params.fast_fail_share
    if u_kind < person + machine:
        truth = CallOutcome.PERSON if u_kind < person else CallOutcome.MACHINE
        limit = ring_timeout_s - params.setup_s
        # Inversion below the ring timeout: the answer time is drawn from the distribution
        # truncated there, so that the shares stay those asked for.
        answer = params.answer_time.quantile(u_time * params.answer_time.cdf(limit))
        answer_at = params.setup_s + min(answer, limit)
        delay = params.detection_delay.quantile(u_delay)
        if truth is CallOutcome.PERSON:
            wrong = u_detect < params.person_as_machine
            detected = CallOutcome.MACHINE if wrong else CallOutcome.PERSON
            talk = params.talk_time.quantile(u_talk)
        else:
            wrong = u_detect < params.machine_as_person
            detected = CallOutcome.PERSON if wrong else CallOutcome.MACHINE
            talk = params.machine_talk_time.quantile(u_talk)
        return CallFate(truth, detected, answer_at + delay, params.setup_s, talk)
    if u_kind < person + machine + fast:
        busy = u_detect < params.busy_share_of_fast_fails
        return CallFate(
            CallOutcome.BUSY if busy else CallOutcome.FAILED,
            None,
            min(params.fast_fail_time.quantile(u_time), ring_timeout_s),
            None,
            0.0,
            "486" if busy else params.fail_code,
        )
    return CallFate(CallOutcome.NO_ANSWER, None, ring_timeout_s, params.setup_s, 0.0)


class FateSource:
    """Fates and wrap-up times from a seed: two independent streams, one draw set per call."""

    def __init__(self, params: SimulatorParams, seed: int) -> None:
        self.params = params
        self._calls = random.Random(f"calls:{seed}")
        self._wraps = random.Random(f"wraps:{seed}")

    def next_fate(self, ring_timeout_s: float, *, person_share: float | None = None) -> CallFate:
        r = self._calls.random
        u = (r(), r(), r(), r(), r())
        return draw_fate(self.params, u, ring_timeout_s, person_share=person_share)

    def next_wrap_s(self) -> float:
        return self.params.wrap_time.quantile(self._wraps.random())


# --- Simulated time -----------------------------------------------------------------------


class SimulationStalled(RuntimeError):
    """Nothing is ready and no timer is set in simulated time: the program waits for
    something that can never happen."""


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never waits: asked to wait ``timeout`` seconds for I/O, it moves its
    loop's clock forward by that much instead. No file ever becomes ready."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._keys: dict[Any, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, _fd(fileobj), events, data)
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise SimulationStalled("simulated time stalled: no timer is set and nothing runs")
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._keys


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose clock starts at 0 and jumps to the next timer whenever
    nothing is ready to run: ``asyncio.sleep``, timeouts and ``call_later`` all take
    simulated time, and the program runs as fast as the processor allows."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does this itself when it would wait)."""
        if seconds > 0:
            self._virtual_now += seconds


def run_simulated(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new :class:`VirtualTimeLoop` (as ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)


# --- The adapter --------------------------------------------------------------------------


class _Phase(Enum):
    RINGING = "ringing"
    UP = "up"  # answered, waiting for the engine
    BRIDGED = "bridged"
    MESSAGE = "message"


@dataclass(slots=True)
class _Call:
    fate: CallFate
    phase: _Phase = _Phase.RINGING
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


@dataclass
class SimulatorStats:
    """What really happened (the truth, not what detection reported)."""

    placed: int = 0
    refused: int = 0
    by_outcome: dict[CallOutcome, int] = field(
        default_factory=lambda: dict.fromkeys(CallOutcome, 0)
    )
    persons_taken_for_machines: int = 0
    machines_taken_for_persons: int = 0


_CLOSED = object()


class SimulatedTelephony:
    """The telephony port on a simulated network (see the module's description).

    Events are stamped ``start`` (default: now) plus the loop time elapsed since the
    adapter was first used, so in simulated time they carry simulated datetimes. ``speed``
    divides every duration, for demos that should move faster than life.
    """

    def __init__(
        self,
        params: SimulatorParams,
        *,
        seed: int = 0,
        start: datetime | None = None,
        speed: float = 1.0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.params = params
        self.fates = FateSource(params, seed)
        self.stats = SimulatorStats()
        self._speed = speed
        self._start = start or datetime.now(UTC)
        self._t0: float | None = None
        self._calls: dict[CallId, _Call] = {}
        self._queue: asyncio.Queue[CallEvent | object] = asyncio.Queue()
        self._closed = False

    # The port ------------------------------------------------------------------------------

    async def originate(self, request: DialRequest) -> None:
        if self._closed:
            raise UnknownCall("the simulator is closed", call_id=request.call_id)
        if request.call_id in self._calls:
            raise UnknownCall("this call id was already originated", call_id=request.call_id)
        if self.params.lines is not None and len(self._calls) >= self.params.lines:
            self.stats.refused += 1
            raise LinesExhausted(
                f"all {self.params.lines} lines are in use", lines=self.params.lines
            )
        fate = self.fates.next_fate(request.ring_timeout_s)
        call = _Call(fate)
        self._calls[request.call_id] = call
        self.stats.placed += 1
        self.stats.by_outcome[fate.outcome] += 1
        if fate.outcome is CallOutcome.PERSON and fate.detected is CallOutcome.MACHINE:
            self.stats.persons_taken_for_machines += 1
        if fate.outcome is CallOutcome.MACHINE and fate.detected is CallOutcome.PERSON:
            self.stats.machines_taken_for_persons += 1
        if fate.ringing_after_s is not None:
            call.timers.append(self._later(fate.ringing_after_s, self._ring, request.call_id))
        call.timers.append(self._later(fate.resolve_after_s, self._resolve, request.call_id))

    def events(self) -> AsyncIterator[CallEvent]:
        return self._events()

    async def bridge(self, call_id: CallId, agent: AgentLine) -> None:
        call = self._answered(call_id)
        if agent.address in self.params.unreachable:
            raise TelephonyError(f"agent {agent.agent_id}'s line did not take the call")
        call.cancel_timers()
        call.phase = _Phase.BRIDGED
        by = Party.CONTACT if call.fate.outcome is CallOutcome.PERSON else Party.AGENT
        call.timers.append(self._later(call.fate.talk_s, self._end, call_id, by))

    async def play_and_hang_up(self, call_id: CallId, message: str) -> None:
        call = self._answered(call_id)
        call.cancel_timers()
        call.phase = _Phase.MESSAGE
        call.timers.append(self._later(self.params.message_s, self._end, call_id, Party.ENGINE))

    async def hang_up(self, call_id: CallId) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        if call.phase is _Phase.RINGING:
            self._finish(call_id, Unanswered(call_id, self._now(), CallOutcome.NO_ANSWER))
        else:
            self._end(call_id, Party.ENGINE)

    async def close(self) -> None:
        for call_id in list(self._calls):
            await self.hang_up(call_id)
        self._closed = True
        self._queue.put_nowait(_CLOSED)

    # Simulated agents ------------------------------------------------------------------------

    def next_wrap_s(self) -> float:
        """A wrap-up time for a simulated agent, from the parameters' distribution."""
        return self.fates.next_wrap_s()

    @property
    def calls_up(self) -> int:
        """Calls ringing or answered now (the lines in use)."""
        return len(self._calls)

    # Internals -------------------------------------------------------------------------------

    async def _events(self) -> AsyncIterator[CallEvent]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, Ringing | Answered | Unanswered | HungUp)
            yield item

    def _loop_time(self) -> float:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        return loop.time() - self._t0

    def _now(self) -> datetime:
        return self._start + timedelta(seconds=self._loop_time())

    def _later(self, delay_s: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        self._loop_time()  # fixes the origin of time at the first call
        return asyncio.get_running_loop().call_later(delay_s / self._speed, callback, *args)

    def _answered(self, call_id: CallId) -> _Call:
        call = self._calls.get(call_id)
        if call is None or call.phase is not _Phase.UP:
            raise UnknownCall("the call is not answered and waiting", call_id=call_id)
        return call

    def _ring(self, call_id: CallId) -> None:
        self._queue.put_nowait(Ringing(call_id, self._now()))

    def _resolve(self, call_id: CallId) -> None:
        call = self._calls[call_id]
        fate = call.fate
        call.timers.clear()
        if fate.detected is None:
            self._finish(call_id, Unanswered(call_id, self._now(), fate.outcome, fate.code))
            return
        call.phase = _Phase.UP
        self._queue.put_nowait(Answered(call_id, self._now(), fate.detected))
        patience = self.params.patience_s
        call.timers.append(self._later(patience, self._end, call_id, Party.CONTACT))

    def _end(self, call_id: CallId, by: Party) -> None:
        self._finish(call_id, HungUp(call_id, self._now(), by))

    def _finish(self, call_id: CallId, event: CallEvent) -> None:
        call = self._calls.pop(call_id)
        call.cancel_timers()
        self._queue.put_nowait(event)
