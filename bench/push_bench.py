"""Pushed delivery under load: 1,000 agents on WebSocket, records pushed as agents finish.

    python -m bench.push_bench [--agents 1000] [--records 20000] [--handle-s 30]
                               [--seconds 150] [--mode direct_push_preview]
                               [--no-postgres] [--no-sqlite] [--no-record]

One shared (not agent-owned) campaign in ``--mode`` (``direct_push_preview``, or
``push_preview``: the agent accepts each push first) and one ``callhopper serve`` process
running its pusher. ``--agents`` clients connect to ``/api/v1/agent/ws`` (asyncio and the
``websockets`` client, one process), turn receiving on (or get ready on outbound_preview),
and loop: wait for a push, work it for ``--handle-s`` on average (uniform ±50%), then
Done, which makes the agent's next record claimable for them. The first pushes, all at
once when the agents start, are the **shift start** (timed from turning receiving on).
After it, for each push freed by a Done, it measures on the one wall clock that server and
bench share:

* **claimable → push arrived**: from the Done that freed the agent (the server's time of
  that wrap-up, read inside its transaction) to the push arriving on the agent's socket;
* split into **claimable → claimed** (the pusher's reaction: wake, round, claim; the
  push's ``leased_at``) and **claimed → arrived** (commit, event, the socket handler
  loading the delivery, the frame);
* **Done answered → push arrived**: from the client's answer to that Done to the push, on
  the client's clock. The push is sent from the same commit as the answer: a push that
  comes much later than the answer waited in the server's event loop or in this client;
* **the client's own lag**: how late its event loop runs a 50 ms tick (one process runs
  every agent, and a starved client delays every arrival it times).

Beside it, in the same run and against the same campaign, the **bare claim statement**
(``callhopper.store.claims.statements.claim``, then rolled back) is timed from this process every
``--bare-every-ms``. Target (issue 6): claimable → push arrived p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import insert, select, text
from websockets.asyncio.client import connect

from bench.common import append_results, chosen_databases, raise_open_files, serve, table
from bench.dispense_bench import pct, tokens

PHOENIX = "America/Phoenix"
#: The period of the tick that measures the client's own lag.
TICK_S = 0.05


def setup(url: str, agents: int, records: int, mode: str) -> int:
    """Agents (user ids 1 … agents), a queue, a shared list and a started campaign."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.core import lists as core_lists
    from callhopper.domain.actors import SYSTEM
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.domain.campaign_values import CampaignSpec
    from callhopper.domain.campaigns import CampaignAction, CampaignSettings, DialingMode, SortKey
    from callhopper.domain.contacts import ColumnSpec, ListSchema, NormalisedRow, PhoneColumnSpec
    from callhopper.domain.ownership import OwnerOrder
    from callhopper.store.db import Database
    from callhopper.store.migrate import ensure_schema
    from callhopper.store.models import ImportJob, QueueMember, User
    from callhopper.store.queues import SqlQueueStore
    from callhopper.store.records import SqlRecordSink
    from callhopper.store.uow import SqlTransaction

    db = Database(url)
    ensure_schema(db)
    now = datetime.now(UTC)
    with db.write() as session:
        role_id = session.scalar(text("SELECT id FROM roles WHERE name = 'agent'"))
        session.execute(
            insert(User),
            [
                {
                    "user_id": f"ag{n}",
                    "email": f"ag{n}@bench.test",
                    "email_key": f"ag{n}@bench.test",
                    "display_name": f"Agent {n}",
                    "role_id": role_id,
                    "active": True,
                    "created_at": now,
                }
                for n in range(agents + 1)  # the last one only times the bare claim
            ],
        )
        queue = SqlQueueStore(session).add_queue(name="bench", description="", now=now)
        session.execute(
            insert(QueueMember),
            [{"queue_id": queue.id, "user_id": n + 1, "added_at": now} for n in range(agents + 1)],
        )
        schema = ListSchema(
            columns=(ColumnSpec(name="account"), ColumnSpec(name="phone")),
            phone_columns=(PhoneColumnSpec(column="phone"),),
            default_timezone=PHOENIX,
        )
        contact_list = core_lists.create_list(
            SqlTransaction(session), SYSTEM, name="bench", description="", schema=schema, now=now
        )
        job = ImportJob(list_id=contact_list.id, source="bench", format="json", started_at=now)
        session.add(job)
        session.flush()
        SqlRecordSink(session, contact_list.id, job.id, now).write(
            [
                NormalisedRow(
                    line=n + 2,
                    key=None,
                    data={"account": f"P{n:07d}", "phone": f"602{n:07d}"},
                    phones=[f"+1602{200 + n // 10000:03d}{n % 10000:04d}"],
                    tz=PHOENIX,
                )
                for n in range(records)
            ]
        )
        campaign = core_campaigns.create_campaign(
            SqlTransaction(session),
            SYSTEM,
            CampaignSpec(
                name="push bench",
                description="",
                list_id=contact_list.id,
                queue_id=queue.id,
                wrapup_set_id=1,
                mode=DialingMode(mode),
                agent_owned_column=None,
                owner_order=OwnerOrder.EMAIL_FIRST,
                sort=(SortKey(column="account"),),
                calling_window=CallingWindow(start="00:00", end="24:00"),
                settings=CampaignSettings(accept_timeout_s=600),
            ),
            now=now,
        )
        core_campaigns.change_state(
            SqlTransaction(session), SYSTEM, campaign.id, CampaignAction.START, now=now
        )
        campaign_id = campaign.id
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    return campaign_id


# --- the bare claim, timed beside the run --------------------------------------------------------


class _Undo(Exception):
    """Rolls the bare claim back: it must not take records from the agents."""


def bare_claims(
    url: str,
    campaign_id: int,
    agent_id: int,
    every_s: float,
    stop: threading.Event,
    latencies: list[float],
) -> None:
    """Time the claim statement alone (its transaction already begun) into ``latencies``
    (seconds) until ``stop``."""
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.store.claims import statements as claims
    from callhopper.store.db import Database

    db = Database(url, pool_size=1)
    window = CallingWindow(start="00:00", end="24:00")
    while not stop.wait(every_s):
        now = datetime.now(UTC)
        request = claims.ClaimRequest(
            campaign_id=campaign_id,
            agent_id=agent_id,
            owned=False,
            now=now,
            lease_until=now + timedelta(minutes=30),
            zones=sorted(window.open_zones(now)),
            pass_no=1,
        )
        try:
            with db.write() as session:
                session.execute(text("SELECT 1"))  # BEGIN (IMMEDIATE on SQLite) is not timed
                began = time.perf_counter()
                claims.claim(session, request)
                latencies.append(time.perf_counter() - began)
                raise _Undo
        except _Undo:
            pass
    db.dispose()


# --- the agents ---------------------------------------------------------------------------------


@dataclass
class Push:
    agent: int
    record_id: int
    leased_at: float
    arrived_at: float
    #: The record the agent finished just before (whose Done made this one claimable).
    after_record: int | None
    #: When the client had the answer (204) to that Done.
    done_answered_at: float | None


@dataclass
class Floor:
    """What the agents share: the run's deadline (set once all are connected) and results."""

    connected: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    stop_at: float = float("inf")
    pushes: list[Push] = field(default_factory=list)
    done_s: list[float] = field(default_factory=list)
    #: From turning receiving on (or ready) to the agent's first push: the shift's start.
    first_s: list[float] = field(default_factory=list)
    #: When each agent got their first push.
    first_at: dict[int, float] = field(default_factory=dict)
    #: Agents whose client failed (they stop working).
    failed: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    #: When each agent's toggle (or ready) was taken, after any 503 for capacity.
    toggled_at: dict[int, float] = field(default_factory=dict)
    #: Requests the server refused for capacity (503), each sent again after Retry-After.
    refused: int = 0
    #: How late this client's own event loop ran a 50 ms tick (seconds): its starvation.
    lag_s: list[float] = field(default_factory=list)

    @property
    def burst_over(self) -> float:
        """When the last agent got their first push (the shift-start burst is over); agents
        whose client failed before their first push do not hold it open."""
        waiting = self.connected - len(self.failed - self.first_at.keys())
        return max(self.first_at.values()) if len(self.first_at) >= waiting else float("inf")


async def agent(
    n: int,
    token: str,
    base: str,
    campaign_id: int,
    mode: str,
    handle_s: float,
    floor: Floor,
    http: aiohttp.ClientSession,
) -> None:
    """One agent: connect, wait for everyone, start receiving, then push → work → Done."""
    headers = {"Authorization": f"Bearer {token}"}
    ws_url = base.replace("http://", "ws://") + f"/api/v1/agent/ws?token={token}"
    async with connect(ws_url, open_timeout=300, ping_interval=None, max_size=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
        # The server answers a ping once it has sent what it resumes: then it is connected.
        await ws.send("ping")
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        floor.connected += 1
        await floor.all_in.wait()
        api = f"{base}/api/v1/agent"
        if mode == "push_preview":
            login = f"{api}/campaigns/{campaign_id}/login"
            status, text = await admitted(http, "POST", login, floor, headers=headers)
            if status != 204:
                raise RuntimeError(f"login: {status} {text}")
            path, body = f"{api}/channels/outbound_preview", {"ready": True}
        else:
            path, body = f"{api}/campaigns/{campaign_id}/receiving", {"on": True}
        asked = time.time()
        status, text = await admitted(http, "PUT", path, floor, json=body, headers=headers)
        if status >= 300:
            floor.errors.append(f"agent {n}: {status} {text}")
            floor.failed.add(n)
            return
        floor.toggled_at[n] = time.time()
        previous: int | None = None
        answered: float | None = None
        while (left := floor.stop_at - time.time()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=left)
            except TimeoutError:
                break
            arrived = time.time()
            message = json.loads(raw)
            if message["type"] != "delivery":
                continue  # state changes of the agent's own doing
            delivery = message["delivery"]
            record_id = int(delivery["record_id"])
            leased = datetime.fromisoformat(delivery["leased_at"]).timestamp()
            floor.pushes.append(Push(n, record_id, leased, arrived, previous, answered))
            if previous is None:
                floor.first_s.append(arrived - asked)
                floor.first_at[n] = arrived
            await asyncio.sleep(random.uniform(handle_s / 2, handle_s * 1.5))
            record = f"{api}/campaigns/{campaign_id}/records/{record_id}"
            if mode == "push_preview":
                status, text = await admitted(
                    http, "POST", f"{record}/accept", floor, headers=headers
                )
                if status != 200:
                    raise RuntimeError(f"accept {record_id}: {status} {text}")
            began = time.perf_counter()
            status, text = await admitted(
                http,
                "POST",
                f"{record}/done",
                floor,
                json={"code": "not_interested"},
                headers=headers,
            )
            floor.done_s.append(time.perf_counter() - began)
            answered = time.time()
            if status != 204:
                floor.errors.append(f"agent {n} done {record_id}: {status} {text}")
                floor.failed.add(n)
                return
            previous = record_id


async def admitted(
    http: aiohttp.ClientSession, method: str, url: str, floor: Floor, **kwargs: Any
) -> tuple[int, str]:
    """Send a request as a client should: a 503 for capacity is sent again after its
    ``Retry-After``. Returns the final status and body."""
    while True:
        async with http.request(method, url, **kwargs) as response:
            status, text = response.status, await response.text()
            retry_after = response.headers.get("Retry-After")
        if status != 503 or retry_after is None:
            return status, text
        floor.refused += 1
        await asyncio.sleep(float(retry_after))


async def run_agents(
    base: str, campaign_id: int, agent_tokens: list[str], mode: str, handle_s: float, seconds: float
) -> tuple[Floor, float]:
    """Connect every agent, then let them work for ``seconds``; returns (floor, connect s)."""
    floor = Floor()
    began = time.perf_counter()
    # aiohttp: httpx's client cost more CPU per request than the server's handling of it.
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(n: int, token: str) -> None:
            try:
                await agent(n, token, base, campaign_id, mode, handle_s, floor, http)
            except Exception as exc:  # one agent's failure is a result, not the end of the run
                floor.errors.append(f"agent {n}: {type(exc).__name__}: {exc!r}")
                floor.failed.add(n)

        async def tick() -> None:
            while time.time() < floor.stop_at:
                began = time.perf_counter()
                await asyncio.sleep(TICK_S)
                floor.lag_s.append(time.perf_counter() - began - TICK_S)

        tasks = [asyncio.create_task(one(n, t)) for n, t in enumerate(agent_tokens)]
        while floor.connected + len(floor.errors) < len(agent_tokens):
            await asyncio.sleep(0.05)
        connect_s = time.perf_counter() - began
        floor.stop_at = time.time() + seconds
        floor.all_in.set()
        await asyncio.gather(*tasks, tick())
    return floor, connect_s


# --- the measures ---------------------------------------------------------------------------------


@dataclass
class Measures:
    total_ms: list[float]
    claim_ms: list[float]
    deliver_ms: list[float]
    #: From the client's answer to the Done to the push (negative: the push came first).
    after_answer_ms: list[float]


def measures(url: str, campaign_id: int, floor: Floor) -> Measures:
    """Match each push with the Done that made it claimable (the server's wrap-up time).
    Only pushes freed after the shift-start burst count: before, they queue behind it."""
    from callhopper.store.db import Database
    from callhopper.store.models import Interaction

    db = Database(url)
    with db.read() as session:
        done_at = {
            record_id: at.timestamp()
            for record_id, at in session.execute(
                select(Interaction.record_id, Interaction.at).where(
                    Interaction.campaign_id == campaign_id, Interaction.kind == "wrapup"
                )
            )
        }
    db.dispose()
    result = Measures([], [], [], [])
    for push in floor.pushes:
        if push.after_record is None:
            continue  # the agent's first push: claimable when receiving turned on
        freed = done_at[push.after_record]
        if freed < floor.burst_over:
            continue
        result.total_ms.append((push.arrived_at - freed) * 1000)
        result.claim_ms.append((push.leased_at - freed) * 1000)
        result.deliver_ms.append((push.arrived_at - push.leased_at) * 1000)
        if push.done_answered_at is not None:
            result.after_answer_ms.append((push.arrived_at - push.done_answered_at) * 1000)
    return result


def ms(values: list[float], q: float) -> str:
    """A percentile of values already in milliseconds."""
    return f"{pct([v / 1000 for v in values], q):.1f}"


def row(database: str, measure: str, samples_ms: list[float]) -> list[str]:
    """A table row: the measure's sample count, p50, p99 and max."""
    return [
        database,
        measure,
        f"{len(samples_ms):,}",
        ms(samples_ms, 0.5),
        ms(samples_ms, 0.99),
        ms(samples_ms, 1.0),
    ]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--handle-s", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--bare-every-ms", type=float, default=50.0)
    parser.add_argument(
        "--mode", choices=["direct_push_preview", "push_preview"], default="direct_push_preview"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    # 1,000 sockets here and 1,000 in the server (which inherits the limit), plus pools.
    raise_open_files(4 * args.agents + 1024)

    rows: list[list[object]] = []
    verdicts: list[str] = []
    load = f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    backends = chosen_databases(args, "push")
    for name, fresh in backends:
        with fresh() as url:
            print(f"{name}: setting up {args.agents} agents, {args.records} records …", flush=True)
            campaign_id = setup(url, args.agents, args.records, args.mode)
            agent_tokens = tokens(url, 0, args.agents)
            stop = threading.Event()
            bare: list[float] = []
            timer = threading.Thread(
                target=bare_claims,
                args=(url, campaign_id, args.agents + 1, args.bare_every_ms / 1000, stop, bare),
            )
            with serve(url, f"push_{name.lower()}.log") as base:
                timer.start()
                floor, connect_s = asyncio.run(
                    run_agents(
                        base, campaign_id, agent_tokens, args.mode, args.handle_s, args.seconds
                    )
                )
                stop.set()
                timer.join()
            found = measures(url, campaign_id, floor)
            bare_ms = [b * 1000 for b in bare]
            rate = len(floor.pushes) / args.seconds
            steady_s = max(0.0, floor.stop_at - floor.burst_over)
            last_toggle = max(floor.toggled_at.values(), default=float("nan"))
            after_last = floor.burst_over - last_toggle
            print(
                f"  {args.agents} connected in {connect_s:.1f} s; {len(floor.pushes):,} pushes "
                f"({rate:,.0f}/s), {len(floor.errors)} errors, {floor.refused} requests "
                f"refused (503) and sent again; steady state {steady_s:.0f} s",
                flush=True,
            )
            for error in floor.errors[:5]:
                print(f"    {error}", flush=True)
            rows += [
                row(name, "claimable → push arrived", found.total_ms),
                row(name, "… claimable → claimed (pusher reaction)", found.claim_ms),
                row(name, "… claimed → arrived (event, socket)", found.deliver_ms),
                row(
                    name,
                    "… Done answered → push arrived (client's clock; < 0: push first)",
                    found.after_answer_ms,
                ),
                row(
                    name,
                    "client's own event-loop lag (50 ms tick)",
                    [lag * 1000 for lag in floor.lag_s],
                ),
                row(
                    name,
                    f"shift start: receiving on → first push ({args.agents:,} at once)",
                    [f * 1000 for f in floor.first_s],
                ),
                row(name, "bare claim statement (same run)", bare_ms),
                row(name, "HTTP Done (client side)", [d * 1000 for d in floor.done_s]),
            ]
            p99 = pct([v / 1000 for v in found.total_ms], 0.99)
            verdicts.append(
                f"* {name}: shift start: the last first push arrived {after_last:.1f} s after "
                f"the last toggle was taken — {'meets' if after_last < 5 else 'MISSES'} the "
                f"target (< 5 s); {floor.refused} requests were refused for capacity (503) "
                "and sent again after Retry-After"
            )
            verdicts.append(
                f"* {name}: {len(floor.pushes):,} pushes in {args.seconds:.0f} s "
                f"({rate:,.0f}/s) to {floor.connected:,} connected agents "
                f"(steady state after the shift-start burst: {steady_s:.0f} s), "
                f"{len(floor.errors)} client errors; claimable → push arrived p99 {p99:.0f} ms — "
                f"{'meets' if p99 < 100 else 'MISSES'} the target (p99 < 100 ms)"
            )
    report = table(["database", "measure", "samples", "p50 ms", "p99 ms", "max ms"], rows)
    body = (
        f"{args.agents:,} agents on WebSocket to one `callhopper serve`, one shared "
        f"`{args.mode}` campaign, {args.records:,} records; each agent works a push for "
        f"{args.handle_s:g} s on average, then Done; {args.seconds:.0f} s per database "
        f"(load average before the run: {load}).\n\n"
        f"{report}\n\n" + "\n".join(verdicts)
    )
    print(body)
    if not args.no_record:
        append_results("push_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
