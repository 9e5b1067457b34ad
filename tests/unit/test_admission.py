"""The admission gate on its own, on an event loop: who runs, who waits, who is refused.

Every case is decided by the order of events, not by timing: the requests that hold a slot
block on an event the test sets.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from callhopper.api.admission import Admission, AdmissionPolicy, retry_after

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


def policy(
    *, limit: int = 1, queue: int = 10, wait_s: float = 60.0, most: int = 30
) -> AdmissionPolicy:
    return AdmissionPolicy(
        limit=limit,
        queue=queue,
        wait_s=wait_s,
        retry_after_s=2,
        retry_after_max_s=most,
        prefix=PREFIX,
    )


def gate(app: Blocking, *, limit: int = 1, queue: int = 10, wait_s: float = 60.0) -> Admission:
    return Admission(app, policy(limit=limit, queue=queue, wait_s=wait_s))


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
        # The first refusal, nothing served yet: the shortest Retry-After, or one more.
        assert status == 503 and headers["retry-after"] in {"2", "3"}
        error = json.loads(body)["error"]
        assert error["code"] == "overloaded"
        assert error["details"] == {"retry_after_s": int(headers["retry-after"])}
        assert headers["content-length"] == str(len(body))
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


def test_a_request_expected_to_wait_past_the_budget_is_refused_at_once() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = gate(app, limit=2, wait_s=1.0)  # a refusal after the budget: too late
        holders = [asyncio.create_task(request(admission, f"{PREFIX}{n}")) for n in range(2)]
        await settle()
        admission.service_s = 1.5  # one waiter: 1 x 1.5 s / 2 slots = 0.75 s, within the budget
        queued = asyncio.create_task(request(admission, PREFIX + "queued"))
        await settle()
        assert admission.waiting == 1
        # The next would wait 2 x 1.5 s / 2 = 1.5 s: refused now, not when the budget ends.
        status, headers, _ = await asyncio.wait_for(request(admission), timeout=0.5)
        assert status == 503 and int(headers["retry-after"]) >= 2
        assert admission.waiting == 1
        app.release.set()
        assert [(await h)[0] for h in holders] == [200, 200]
        assert (await queued)[0] == 200
        assert admission.running == 0 and admission.waiting == 0
        assert admission.service_s < 1.5  # the fast requests brought the estimate down

    asyncio.run(scenario())


def test_a_waiter_past_the_budget_is_refused_and_uncounted() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = gate(app, wait_s=0.01)
        holder = asyncio.create_task(request(admission, PREFIX + "holder"))
        await settle()
        assert (await request(admission))[0] == 503
        assert admission.waiting == 0
        app.release.set()
        await holder
        assert admission.running == 0 and admission.waiting == 0

    asyncio.run(scenario())


def test_retry_after_spreads_the_refused_as_the_overload_grows() -> None:
    rng = random.Random(7)
    # Not overloaded lately: the shortest.
    assert {retry_after(policy(), 0, 50, rng) for _ in range(100)} == {2}
    assert {retry_after(policy(), 1, 0, rng) for _ in range(100)} <= {2, 3}
    # Ten refused for each served: spread evenly over 2 … 12 s.
    spread = [retry_after(policy(), 500, 50, rng) for _ in range(2000)]
    assert min(spread) == 2 and max(spread) == 12
    assert all(120 < spread.count(s) < 250 for s in range(2, 13))  # 182 each on average
    # Never past the cap, even when the cap is below the shortest.
    assert max(retry_after(policy(most=5), 10_000, 1, rng) for _ in range(200)) == 5
    assert {retry_after(policy(most=1), 10_000, 1, rng) for _ in range(20)} == {2}


def test_the_retry_after_of_a_gate_grows_with_its_refusals() -> None:
    async def scenario() -> None:
        app = Blocking()
        admission = Admission(app, policy(limit=1, queue=0), rng=random.Random(3))
        holder = asyncio.create_task(request(admission, PREFIX + "holder"))
        await settle()
        seen = [int((await request(admission))[1]["retry-after"]) for _ in range(200)]
        # Nothing served yet: each refusal adds to the spread, up to the cap.
        assert seen[0] <= 3 and max(seen) == 30 and len(set(seen[-100:])) > 10
        app.release.set()
        await holder

    asyncio.run(scenario())
