"""A floor of agents working real ``callhopper serve`` processes that get killed (SIGKILL).

Shared by the crash and two-process tests (small sizes) and by ``python -m bench crash`` (at
scale). The floor:

* creates its agents and an administrator straight in the database (no password hashing),
  then lists, queues and started campaigns through the HTTP API: a shared **preview**
  campaign, a **push preview** campaign and a **hopper** campaign (enforced lead ownership);
* runs every agent as an asyncio client (aiohttp for HTTP, ``websockets`` for the agent
  channel): preview and hopper agents loop Get Record → Call → Done; push agents keep their
  WebSocket open, and Accept → Call → Done each record pushed to them. A client that meets
  a dead server retries until it answers again, then carries on with what the server says
  it holds (Get Record answers the record an agent holds; the channel resends it);
* kills a server at seeded random moments, reads the leases held at that instant from the
  database while the process is dead, restarts it on the same database, and measures how
  long agents take to work again. At the first kill one preview and one push agent of the
  killed server **desert** (never come back), so that their leases can only come back by
  lapsing;
* stops when every record of its campaigns is final; :mod:`bench.crash_checks` then reads
  the database and says what was lost, handled twice, recovered how, and audited.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import WebSocketException

from callhopper.domain.credentials import new_secret, secret_hash
from callhopper.store.db import Database
from callhopper.store.migrate import ensure_schema
from callhopper.store.models import AuthToken, User

PREVIEW, PUSH, HOPPER = "preview", "push_preview", "hopper"
KINDS = (PREVIEW, PUSH, HOPPER)
#: The shortest lease a campaign allows: a deserter's record comes back 30 s after its last
#: action. A pushed record not accepted comes back at its accept deadline.
LEASE_TIMEOUT_S = 30
ACCEPT_TIMEOUT_S = 20
#: A final wrap-up code of the built-in set: each record is done once.
FINAL_CODE = "sale"
#: How long a client waits before trying a server that did not answer again.
RETRY_S = 0.2
#: How long an agent waits before asking again when nothing could be delivered.
IDLE_S = 0.3
ZONE = "America/Phoenix"


class Server(Protocol):
    """A ``callhopper serve`` process (``tests.e2e.server.LiveServer``)."""

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def kill(self) -> None: ...


@dataclass
class Agent:
    n: int
    user_id: str
    db_id: int
    token: str
    kind: str = PREVIEW
    campaign_id: int = 0
    server: int = 0
    #: Successful answers from the server, by wall clock (``time.monotonic``).
    ok_at: list[float] = field(default_factory=list)
    #: Get Record answered (preview and hopper agents), with a record or without.
    answered_at: list[float] = field(default_factory=list)
    #: A record reached the agent (Get Record, or the channel).
    delivered_at: list[float] = field(default_factory=list)
    #: Records this agent marked Done (the server answered 204).
    done: set[int] = field(default_factory=set)
    #: Records that reached this agent over the channel (pushed or resumed).
    seen: set[int] = field(default_factory=set)
    #: When the agent's channel was open: (hello, noticed closed), by the database's clock.
    connected: list[tuple[datetime, datetime]] = field(default_factory=list)


@dataclass
class HeldLease:
    """A delivery open (in the database) while its server was dead."""

    assignment_id: int
    campaign_id: int
    record_id: int
    agent_id: int
    deserter: bool
    lease_expires_at: datetime | None
    accept_by: datetime | None


@dataclass
class Kill:
    server: int
    killed_at: float
    restarted_at: float
    up_at: float
    affected: list[int]
    held: list[HeldLease]


@dataclass
class Plan:
    """How many agents and records each kind of campaign gets."""

    agents: dict[str, int]
    records: dict[str, int]
    servers: int = 1
    kills: int = 1
    #: At most this long (seconds, drawn uniformly) after its share of Dones, a kill comes.
    jitter_s: float = 0.5
    #: An agent's time on a record between Call and Done: drawn uniformly in [0, think_s].
    think_s: float = 0.05
    seed: int = 1
    desert: bool = True
    #: The run stops here even if records are left (they count as lost).
    deadline_s: float = 120.0


@dataclass
class Floor:
    plan: Plan
    db_url: str
    servers: Sequence[Server]
    agents: list[Agent] = field(default_factory=list)
    campaigns: dict[str, int] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    deserted: set[int] = field(default_factory=set)
    #: Client-observed Dones answered 204, per (campaign, record).
    done_ok: Counter[tuple[int, int]] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    timed_out: bool = False
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def engine(self) -> Engine:
        return create_engine(self.db_url)


# --- set-up --------------------------------------------------------------------------------------


def create_people(db_url: str, count: int) -> tuple[str, list[Agent]]:
    """An administrator and ``count`` agents with API tokens, inserted in bulk (no argon2);
    returns the administrator's token and the agents."""
    db = Database(db_url)
    ensure_schema(db)
    now = datetime.now(UTC)
    secrets_ = [new_secret("chp_") for _ in range(count + 1)]
    with db.write() as session:
        roles = dict(session.execute(text("SELECT name, id FROM roles")).all())
        rows = [("floor-admin", roles["admin"])] + [
            (f"fa{n:04d}", roles["agent"]) for n in range(count)
        ]
        session.execute(
            insert(User),
            [
                {
                    "user_id": user_id,
                    "email": f"{user_id}@floor.test",
                    "email_key": f"{user_id}@floor.test",
                    "display_name": user_id,
                    "role_id": role_id,
                    "active": True,
                    "created_at": now,
                }
                for user_id, role_id in rows
            ],
        )
        ids = dict(session.execute(text("SELECT user_id, id FROM users")).all())
        session.execute(
            insert(AuthToken),
            [
                {
                    "user_id": ids[user_id],
                    "kind": "api",
                    "name": "floor",
                    "token_hash": secret_hash(secret),
                    "prefix": secret[:10],
                    "created_at": now,
                }
                for (user_id, _), secret in zip(rows, secrets_, strict=True)
            ],
        )
    db.dispose()
    agents = [
        Agent(n, user_id, ids[user_id], secret)
        for n, ((user_id, _), secret) in enumerate(zip(rows[1:], secrets_[1:], strict=True))
    ]
    return secrets_[0], agents


def _phone(n: int) -> str:
    return f"(602) {200 + n // 10000:03d}-{n % 10000:04d}"


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return dict(response.json())


def build_campaign(
    api: httpx.Client, kind: str, agents: list[Agent], records: int, first: int
) -> int:
    """A list of ``records`` accounts (phones from number ``first``), a queue of ``agents``
    and a started campaign of ``kind``; returns its id."""
    hopper = kind == HOPPER
    key = "lead" if hopper else "account"
    body: dict[str, Any] = {
        "name": f"Floor {kind}",
        "columns": [key, "phone", "owner", {"name": "notes", "editable": True}],
        "phone_columns": ["phone"],
        "key_column": key,
        "default_timezone": ZONE,
    }
    if hopper:
        body["lead_owner_column"] = "owner"
    list_id = _created(api.post("/contact-lists", json=body))["id"]
    rows = [
        {
            key: f"{kind[:2].upper()}{n:07d}",
            "phone": _phone(first + n),
            # Hopper: every other lead is owned (by its agents in turn), the rest general.
            "owner": agents[(n // 2) % len(agents)].user_id if hopper and n % 2 else "",
        }
        for n in range(records)
    ]
    for at in range(0, records, 5000):
        report = _created(
            api.post(f"/contact-lists/{list_id}/records", json={"records": rows[at : at + 5000]})
        )
        if report["rows_rejected"]:
            raise RuntimeError(f"rows rejected: {report['rejections'][:3]}")
    queue_id = _created(api.post("/queues", json={"name": f"Floor {kind} team"}))["id"]
    _created(
        api.post(f"/queues/{queue_id}/members", json={"user_ids": [a.user_id for a in agents]})
    )
    campaign = {
        "name": f"Floor {kind}",
        "list_id": list_id,
        "queue_id": queue_id,
        "mode": PUSH if kind == PUSH else PREVIEW,
        "enforce_lead_ownership": hopper,
        "calling_window": {"start": "00:00", "end": "24:00"},
        "sort": [{"column": key}],
        "settings": {"lease_timeout_s": LEASE_TIMEOUT_S, "accept_timeout_s": ACCEPT_TIMEOUT_S},
    }
    campaign_id = int(_created(api.post("/campaigns", json=campaign))["id"])
    _created(api.post(f"/campaigns/{campaign_id}/start"))
    return campaign_id


def set_up(floor: Floor) -> None:
    """People, then each kind's campaign through server 0; agents are dealt to the servers
    in turn, within each campaign."""
    plan = floor.plan
    admin_token, agents = create_people(floor.db_url, sum(plan.agents.values()))
    floor.agents = agents
    first = 0
    with httpx.Client(
        base_url=f"{floor.servers[0].url}/api/v1",
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=300,
    ) as api:
        taken = 0
        for kind in KINDS:
            count = plan.agents.get(kind, 0)
            if not count:
                continue
            team = agents[taken : taken + count]
            taken += count
            campaign_id = build_campaign(api, kind, team, plan.records[kind], first)
            first += plan.records[kind]
            floor.campaigns[kind] = campaign_id
            for i, agent in enumerate(team):
                agent.kind, agent.campaign_id, agent.server = kind, campaign_id, i % plan.servers


# --- the agents ----------------------------------------------------------------------------------


class ServerDown(Exception):
    """The server did not answer (killed, or still starting)."""


async def call_api(
    http: aiohttp.ClientSession, agent: Agent, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    """One request; the status and the JSON answer (or None). ServerDown when the server does
    not answer or answers 5xx (a request cut by the kill)."""
    headers = {"Authorization": f"Bearer {agent.token}"}
    try:
        async with http.request(method, url, json=body, headers=headers) as response:
            payload = await response.json() if response.content_type == "application/json" else None
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ServerDown(str(exc)) from exc
    if status >= 500:
        raise ServerDown(f"{status} {payload}")
    agent.ok_at.append(time.monotonic())
    return status, payload


def _done_body(agent: Agent, record_id: int) -> dict[str, Any]:
    return {"code": FINAL_CODE, "fields": {"notes": f"{agent.user_id}/{record_id}"}}


async def work_record(
    floor: Floor, http: aiohttp.ClientSession, agent: Agent, base: str, record_id: int
) -> None:
    """Call, think, Done. A refusal (the lease is not the agent's any more) is noted, and the
    agent goes on with what the server gives next."""
    record = f"{base}/records/{record_id}"
    status, body = await call_api(http, agent, "POST", f"{record}/call")
    if status != 200:
        floor.notes.append(f"{agent.user_id} call {record_id}: {status} {body}")
        return
    await asyncio.sleep(random.uniform(0, floor.plan.think_s))
    done = _done_body(agent, record_id)
    status, body = await call_api(http, agent, "POST", f"{record}/done", done)
    if status == 204:
        agent.done.add(record_id)
        floor.done_ok[(agent.campaign_id, record_id)] += 1
    else:
        floor.notes.append(f"{agent.user_id} done {record_id}: {status} {body}")


async def pull_agent(floor: Floor, http: aiohttp.ClientSession, agent: Agent) -> None:
    """Preview and hopper: Get Record → Call → Done until the floor is finished."""
    base = f"{floor.servers[agent.server].url}/api/v1/agent/campaigns/{agent.campaign_id}"
    logged_in = agent.kind != HOPPER  # hopper loads stage leads for logged-in agents only
    while not floor.finished.is_set() and agent.n not in floor.deserted:
        try:
            if not logged_in:
                await call_api(http, agent, "POST", f"{base}/login")
                logged_in = True
            status, body = await call_api(http, agent, "POST", f"{base}/get-record")
            if status != 200:
                floor.notes.append(f"{agent.user_id} get-record: {status} {body}")
                await asyncio.sleep(IDLE_S)
                continue
            agent.answered_at.append(time.monotonic())
            if body["delivery"] is None:
                await asyncio.sleep(IDLE_S)
                continue
            agent.delivered_at.append(time.monotonic())
            if agent.n in floor.deserted:
                return
            await work_record(floor, http, agent, base, int(body["delivery"]["record_id"]))
        except ServerDown:
            await asyncio.sleep(RETRY_S)


async def push_agent(floor: Floor, http: aiohttp.ClientSession, agent: Agent) -> None:
    """Push preview: on the channel, Accept → Call → Done each record that arrives (pushed,
    or resent on reconnect), ready again whenever the server sets the agent not ready."""
    server = floor.servers[agent.server].url
    api = f"{server}/api/v1/agent"
    base = f"{api}/campaigns/{agent.campaign_id}"
    ws_url = server.replace("http://", "ws://") + "/api/v1/agent/ws"
    headers = {"Authorization": f"Bearer {agent.token}"}
    while not floor.finished.is_set() and agent.n not in floor.deserted:
        try:
            async with ws_connect(
                ws_url, additional_headers=headers, open_timeout=10, ping_interval=None
            ) as ws:
                hello = json.loads(await ws.recv())
                if hello["type"] != "hello":
                    raise ServerDown(f"no hello: {hello}")
                since = datetime.now(UTC)
                agent.ok_at.append(time.monotonic())
                try:
                    await call_api(http, agent, "POST", f"{base}/login")
                    await get_ready(http, agent, api)
                    await listen(floor, http, agent, ws, base, api)
                finally:
                    agent.connected.append((since, datetime.now(UTC)))
        except (ServerDown, OSError, TimeoutError, WebSocketException):
            await asyncio.sleep(RETRY_S)


async def listen(
    floor: Floor, http: aiohttp.ClientSession, agent: Agent, ws: Any, base: str, api: str
) -> None:
    while not floor.finished.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
        except TimeoutError:
            continue
        if agent.n in floor.deserted:
            return
        message = json.loads(raw)
        if message["type"] == "delivery" and message["campaign_id"] == agent.campaign_id:
            record_id = int(message["record_id"])
            agent.seen.add(record_id)
            agent.delivered_at.append(time.monotonic())
            if record_id in agent.done:
                continue  # a record can arrive twice (resumed, and live)
            await call_api(http, agent, "POST", f"{base}/records/{record_id}/accept")
            await work_record(floor, http, agent, base, record_id)
        elif message["type"] == "state" and not message["channels"].get("outbound_preview"):
            await get_ready(http, agent, api)


async def get_ready(http: aiohttp.ClientSession, agent: Agent, api: str) -> None:
    await call_api(http, agent, "PUT", f"{api}/channels/outbound_preview", {"ready": True})


# --- the kills -----------------------------------------------------------------------------------

_OPEN_LEASES = text(
    "SELECT a.id, a.campaign_id, a.record_id, a.agent_id, cr.lease_expires_at, cr.accept_by "
    "FROM assignment_history a JOIN campaign_records cr "
    "ON cr.campaign_id = a.campaign_id AND cr.record_id = a.record_id "
    "WHERE a.released_at IS NULL"
)


def held_leases(engine: Engine, agent_ids: dict[int, bool]) -> list[HeldLease]:
    """The deliveries open now of the given agents (``{db id: deserter}``)."""
    with engine.connect() as conn:
        rows = conn.execute(_OPEN_LEASES).all()
    return [
        HeldLease(r[0], r[1], r[2], r[3], agent_ids[r[3]], utc(r[4]), utc(r[5]))
        for r in rows
        if r[3] in agent_ids
    ]


def utc(value: datetime | str | None) -> datetime | None:
    """A timestamp as stored (SQLite: naive UTC, or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def recovered_after(agents: list[Agent], since: float) -> bool:
    return all(any(t > since for t in a.ok_at) for a in agents)


async def killer(floor: Floor, engine: Engine, rng: random.Random) -> None:
    plan = floor.plan
    total = sum(plan.records.values())
    for k in range(plan.kills):
        # The k-th kill comes when a seeded share of the records inside the k-th of equal
        # slices of the work's first 70% is done, then a seeded fraction of a second later:
        # at a random moment, but always while agents work, however loaded the machine.
        low, high = 0.1 + 0.6 * k / plan.kills, 0.1 + 0.6 * (k + 1) / plan.kills
        threshold = total * rng.uniform(low, high)
        while floor.done_ok.total() < threshold:
            if floor.finished.is_set():
                return
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0, plan.jitter_s))
        index = rng.randrange(len(floor.servers))
        server = floor.servers[index]
        killed_at = time.monotonic()
        await asyncio.to_thread(server.kill)
        on_it = [a for a in floor.agents if a.server == index and a.n not in floor.deserted]
        if plan.desert and not floor.kills:
            for kind in (PREVIEW, PUSH):
                team = [a for a in on_it if a.kind == kind]
                if len(team) > 1:
                    floor.deserted.add(rng.choice(team).n)
        affected = {a.db_id: a.n in floor.deserted for a in on_it}
        held = await asyncio.to_thread(held_leases, engine, affected)
        restarted_at = time.monotonic()
        await asyncio.to_thread(server.start)
        kill = Kill(index, killed_at, restarted_at, time.monotonic(), list(affected), held)
        floor.kills.append(kill)
        back = [a for a in on_it if a.n not in floor.deserted]
        limit = time.monotonic() + 60
        while not recovered_after(back, restarted_at) and time.monotonic() < limit:
            if floor.finished.is_set():
                return
            await asyncio.sleep(0.1)


_LEFT = "SELECT count(*) FROM campaign_records WHERE campaign_id IN ({}) AND status <> 'final'"


async def watch(floor: Floor, engine: Engine) -> None:
    """Finish the floor once every record is final (or at the deadline)."""
    query = text(_LEFT.format(", ".join(str(c) for c in floor.campaigns.values())))

    def left() -> int:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    deadline = floor.started_at + floor.plan.deadline_s
    while await asyncio.to_thread(left):
        if time.monotonic() > deadline:
            floor.timed_out = True
            break
        await asyncio.sleep(0.5)
    floor.finished.set()


async def run(floor: Floor) -> None:
    """Work the floor to the end, killing servers on the way."""
    engine = floor.engine
    rng = random.Random(floor.plan.seed)
    random.seed(floor.plan.seed)
    floor.started_at = time.monotonic()
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            workers = [
                asyncio.create_task(
                    push_agent(floor, http, a) if a.kind == PUSH else pull_agent(floor, http, a)
                )
                for a in floor.agents
            ]
            kills = asyncio.create_task(killer(floor, engine, rng))
            await watch(floor, engine)
            floor.ended_at = time.monotonic()
            await asyncio.gather(kills, *workers)
    finally:
        engine.dispose()


# --- recovery times ------------------------------------------------------------------------------


@dataclass
class Recovery:
    """Seconds from a restart (the new process launched): to the server answering, to the
    first Get Record answered, to every agent of the killed server who stayed answered again,
    and to each of them having a record again."""

    up_s: float
    first_get_record_s: float
    all_answered_s: float
    all_delivered_s: float


def _first_after(times: list[float], since: float) -> float:
    return min((t for t in times if t > since), default=float("inf"))


def recoveries(floor: Floor) -> list[Recovery]:
    by_db_id = {a.db_id: a for a in floor.agents}
    out = []
    for kill in floor.kills:
        agents = [by_db_id[i] for i in kill.affected if by_db_id[i].n not in floor.deserted]
        since = kill.restarted_at
        pulls = [a for a in agents if a.kind != PUSH]
        out.append(
            Recovery(
                kill.up_at - since,
                min((_first_after(a.answered_at, since) for a in pulls), default=float("inf"))
                - since,
                max(_first_after(a.ok_at, since) for a in agents) - since,
                max(_first_after(a.delivered_at, since) for a in agents) - since,
            )
        )
    return out
