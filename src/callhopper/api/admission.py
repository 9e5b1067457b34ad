"""Admission control in front of the agents' endpoints: at most ``limit`` of their requests
run at once in a process, the next ones wait their turn for at most ``wait_s``, and a
request that cannot start in that time (or finds ``queue`` requests already waiting) is
answered at once with 503 and ``Retry-After``.

A server past its capacity otherwise takes every request it is sent: each waits longer
than the one before for a worker thread, the event loop falls behind, clients time out and
reset their connections, and the work done for them is wasted. Refusing the excess early
keeps the latency of the requests it does take near their service time, tells clients when
to come back, and needs nothing to recover: the server takes requests again as soon as a
slot is free.

It is a plain ASGI middleware, run on the event loop before any thread is taken; WebSocket
connections and every other path pass through untouched.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from callhopper.api.errors import error_body

#: The error code of a request refused for capacity.
OVERLOADED = "overloaded"


@dataclass(frozen=True)
class AdmissionPolicy:
    """How many requests run at once (``limit``; 0: no limit), how many may wait, how long
    each may wait, and what a refused request is told (``Retry-After``, in seconds)."""

    limit: int
    queue: int
    wait_s: float
    retry_after_s: int
    prefix: str


class Admission:
    """The middleware: a counting gate whose waiters are served first come, first served."""

    def __init__(self, app: ASGIApp, policy: AdmissionPolicy) -> None:
        self.app = app
        self.policy = policy
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.policy.limit <= 0
            or scope["type"] != "http"
            or not scope["path"].startswith(self.policy.prefix)
        ):
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            await self._refuse(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        """Take a slot, waiting for one at most ``wait_s``: whether one was taken."""
        if self.running < self.policy.limit and not self._waiters:
            self.running += 1
            return True
        if self.waiting >= self.policy.queue or self.policy.wait_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
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
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass  # already taken off by _leave

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.policy.retry_after_s
        response = JSONResponse(
            error_body(
                OVERLOADED,
                f"the server is at capacity and could not start this request in time; "
                f"try again in {seconds} s",
                retry_after_s=seconds,
            ),
            status_code=503,
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)
