"""Admission control in front of the agents' endpoints: at most ``limit`` of their requests
run at once in a process, and the next ones wait their turn while the wait they can expect
fits in a budget (``wait_s``). A request that would wait longer, or finds ``queue``
requests already waiting, is answered at once with 503 and a ``Retry-After`` that grows
with the overload, with jitter.

A server past its capacity otherwise takes every request it is sent: each waits longer
than the one before for a worker thread, the event loop falls behind, clients time out and
reset their connections, and the work done for them is wasted. Refusing the excess early
keeps the latency of the requests it does take near their service time, tells clients when
to come back, and needs nothing to recover: the server takes requests again as soon as a
slot is free.

Refusing must cost less than serving, or refusals feed on themselves:

* the expected wait (the requests ahead, times the recent time a request holds a slot,
  divided by the slots) is known when the request arrives, so a request that would not
  start within the budget is refused then, not after waiting for the budget to run out;
  a request queued on a good estimate that still waits the whole budget (a slow patch)
  is refused then;
* a ``Retry-After`` of the same few seconds for everyone brings the refused clients back
  together, into the next refusal: it spreads them over a span that grows with how many
  requests were refused for each one served in the last second or two, up to a cap;
* the refusal itself is two ASGI messages of prepared bytes, before any routing, thread,
  session or database work.

It is a plain ASGI middleware, run on the event loop before any thread is taken; WebSocket
connections and every other path pass through untouched. Each process keeps its own gate.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import deque
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callhopper.api.errors import error_body

#: The error code of a request refused for capacity.
OVERLOADED = "overloaded"
#: The weight of the latest request in the recent service time (an exponential average).
SERVICE_WEIGHT = 0.1
#: The span over which refusals and completions are counted for ``Retry-After``.
WINDOW_S = 1.0


@dataclass(frozen=True)
class AdmissionPolicy:
    """How many requests run at once (``limit``; 0: no limit), how many may wait, the
    longest wait a request is queued for (``wait_s``), and the bounds of the ``Retry-After``
    a refused request is told, in seconds."""

    limit: int
    queue: int
    wait_s: float
    retry_after_s: int
    retry_after_max_s: int
    prefix: str


def retry_after(policy: AdmissionPolicy, refused: int, served: int, rng: random.Random) -> int:
    """The ``Retry-After`` of a refusal, given the requests refused and served lately (this
    window and the one before): at least ``retry_after_s``, plus a uniform jitter over one
    second for each request refused per request served, so that the refused come back
    spread over about the time the process needs to serve them; at most
    ``retry_after_max_s``."""
    spread = math.ceil(refused / max(served, 1))
    top = min(policy.retry_after_s + spread, policy.retry_after_max_s)
    return rng.randint(policy.retry_after_s, max(top, policy.retry_after_s))


class Admission:
    """The middleware: a counting gate whose waiters are served first come, first served."""

    def __init__(
        self, app: ASGIApp, policy: AdmissionPolicy, rng: random.Random | None = None
    ) -> None:
        self.app = app
        self.policy = policy
        self.running = 0
        #: Seconds a request recently held its slot (an exponential average; 0: none yet).
        self.service_s = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._waiting = 0
        self._rng = rng if rng is not None else random.Random()
        self._window_end = 0.0
        self._counts = [0, 0]  # refused, served: in the current window
        self._last = (0, 0)  # the same, in the window before
        self._refusals: dict[int, tuple[list[tuple[bytes, bytes]], bytes]] = {}

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._waiting

    def expected_wait_s(self) -> float:
        """How long a request arriving now would wait for a slot, from the recent service
        time and the requests already waiting."""
        return (self._waiting + 1) * self.service_s / self.policy.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.policy.limit <= 0
            or scope["type"] != "http"
            or not scope["path"].startswith(self.policy.prefix)
        ):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if not await self._enter(loop):
            await self._refuse(loop, send)
            return
        began = loop.time()
        try:
            await self.app(scope, receive, send)
        finally:
            ended = loop.time()
            self.service_s += SERVICE_WEIGHT * (ended - began - self.service_s)
            self._count(ended, served=1)
            self._leave()

    async def _enter(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Take a slot, waiting for one when the wait is expected to fit in ``wait_s`` (and
        at most that long): whether one was taken."""
        if self.running < self.policy.limit and not self._waiting:
            self.running += 1
            return True
        if self._waiting >= self.policy.queue or self.expected_wait_s() > self.policy.wait_s:
            return False
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._waiting += 1
        expiry = loop.call_later(self.policy.wait_s, waiter.cancel)
        try:
            await waiter
            return True  # _leave handed its slot over: ``running`` already counts it
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # The request itself is cancelled (the client went away): a slot handed
                # over meanwhile goes to the next in line.
                if waiter.done() and not waiter.cancelled():
                    self._leave()
                raise
            return False  # waited ``wait_s`` in vain
        finally:
            expiry.cancel()
            if not waiter.done() or waiter.cancelled():
                self._discard(waiter)

    def _leave(self) -> None:
        """Hand the slot to the longest waiter still waiting, else free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            self._waiting -= 1
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            return  # already taken off (and uncounted) by _leave
        self._waiting -= 1

    def _count(self, now: float, *, refused: int = 0, served: int = 0) -> None:
        if now >= self._window_end:
            # A window that ended long ago says nothing about now.
            recent = now - self._window_end < WINDOW_S
            self._last = (self._counts[0], self._counts[1]) if recent else (0, 0)
            self._counts = [0, 0]
            self._window_end = now + WINDOW_S
        self._counts[0] += refused
        self._counts[1] += served

    async def _refuse(self, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self._count(loop.time(), refused=1)
        refused, served = self._last[0] + self._counts[0], self._last[1] + self._counts[1]
        seconds = retry_after(self.policy, refused, served, self._rng)
        headers, body = self._refusal(seconds)
        start: Message = {"type": "http.response.start", "status": 503, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, seconds: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and body of a refusal with this ``Retry-After`` (made once each)."""
        made = self._refusals.get(seconds)
        if made is None:
            body = json.dumps(
                error_body(
                    OVERLOADED,
                    f"the server is at capacity; try again in {seconds} s",
                    retry_after_s=seconds,
                ),
                separators=(",", ":"),
            ).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(seconds).encode()),
            ]
            made = self._refusals[seconds] = (headers, body)
        return made
