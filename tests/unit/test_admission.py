"""The admission gate on its own, on an event loop: who runs, who waits, who is refused.

Every case is decided by the order of events, not by timing: the requests that hold a slot
block on an event the test sets.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from callhopper.api.admission import Admission, AdmissionPolicy

PREFIX = "/api/v1/agent/"


class Blocking:
    """An ASGI app whose requests run until the test releases them, in order of arrival."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started.append(scope["path"])
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def request(gate: Admission, path: str = PREFIX + "x") -> tuple[int, dict[str, str], Any]:
    """Send one GET through the gate: its status, headers and body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    await gate(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return sent[0]["status"], headers, sent[1]["body"]


def gate(app: Blocking, *, limit: int = 1, queue: int = 10, wait_s: float = 60.0) -> Admission:
    policy = AdmissionPolicy(
        limit=limit, queue=queue, wait_s=wait_s, retry_after_s=2, prefix=PREFIX
    )
    return Admission(app, policy)


async def settle() -> None:
    """Let every ready task run until it blocks."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_request_that_cannot_start_in_time_gets_503_with_retry_after() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = gate(app, wait_s=0.01)
        holder = asyncio.create_task(request(admission, PREFIX + "first"))
        await settle()
        status, headers, body = await request(admission, PREFIX + "second")
        assert status == 503 and headers["retry-after"] == "2"
        error = json.loads(body)["error"]
        assert error["code"] == "overloaded" and error["details"] == {"retry_after_s": 2}
        assert app.started == [PREFIX + "first"]  # the refused request never reached the app
        app.release.set()
        assert (await holder)[0] == 200
        assert (await request(admission))[0] == 200  # recovered: nothing to reset
        assert admission.running == 0

    asyncio.run(scenario())


def test_waiters_are_served_in_order_and_a_full_queue_refuses_at_once() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = gate(app, limit=1, queue=2)
        requests = [asyncio.create_task(request(admission, f"{PREFIX}{n}")) for n in range(3)]
        await settle()
        assert app.started == [f"{PREFIX}0"] and admission.waiting == 2
        status, _, _ = await request(admission)  # a fourth: the queue is full
        assert status == 503
        app.release.set()
        assert [(await r)[0] for r in requests] == [200, 200, 200]
        assert app.started == [f"{PREFIX}{n}" for n in range(3)]
        assert admission.running == 0 and admission.waiting == 0

    asyncio.run(scenario())


def test_a_waiter_whose_client_goes_away_leaves_no_slot_taken() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = gate(app, limit=1)
        holder = asyncio.create_task(request(admission, PREFIX + "holder"))
        gone = asyncio.create_task(request(admission, PREFIX + "gone"))
        await settle()
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        app.release.set()
        assert (await holder)[0] == 200
        assert admission.running == 0 and admission.waiting == 0
        assert (await request(admission))[0] == 200

    asyncio.run(scenario())


def test_other_paths_and_a_limit_of_zero_pass_through() -> None:
    async def scenario() -> None:
        app = Blocking()
        app.release.set()
        busy = gate(app, limit=1, wait_s=0)
        busy.running = 1  # as if a request held the only slot
        assert (await request(busy, "/api/v1/queues"))[0] == 200
        assert (await request(busy))[0] == 503
        assert (await request(gate(app, limit=0)))[0] == 200

    asyncio.run(scenario())
