"""Get Record under load: HTTP claims against the bare claim statement, in the same run.

    python -m bench.dispense_bench [--agents 10000] [--records 1000000] [--clients 200]
                                   [--light-clients 10] [--seconds 20] [--no-postgres]
                                   [--no-sqlite] [--no-record]

One agent-owned preview campaign with ``--agents`` agents owning ``--records``
records (evenly). For each database it measures:

* **bare**: the claim statement (``callhopper.store.claims.statements.claim``) and the
  release of the record, executed directly: from ``--clients`` connections at
  once on PostgreSQL, serially on SQLite (one writer at a time is all SQLite
  has). No HTTP, no Python web stack.
* **http**: ``--clients`` concurrent clients, each an agent looping
  ``POST …/get-record`` → ``POST …/done`` against one ``callhopper serve``
  process. Claims/s and the latency of Get Record (p50, p99). Then the same with
  ``--light-clients`` clients: with 200 clients in a closed loop, Get Record waits behind
  the other clients' requests (latency ≈ clients ÷ throughput), so this row shows what the
  server itself adds.

``--open-loop`` runs the open-loop mode instead (:mod:`bench.open_bench`): Poisson arrivals,
the bare ASGI floor, pgbench, CPU per cycle, overload.

Targets (issue 3): PostgreSQL HTTP claims/s ≥ 30% of bare and p99 < 50 ms;
SQLite p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import insert, text

from bench.common import (
    append_results,
    fresh_postgres,
    fresh_sqlite,
    require_postgres_connections,
    serve,
    table,
)

PHOENIX = "America/Phoenix"


def setup(url: str, agents: int, records: int, *, start: bool = True) -> tuple[int, float]:
    """Users, queue, list, records and a campaign, started unless ``start`` is false;
    returns (campaign id, seconds its start took)."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.core import lists as core_lists
    from callhopper.domain.actors import SYSTEM
    from callhopper.domain.campaigns import CampaignAction
    from callhopper.domain.contacts import (
        ColumnSpec,
        FieldType,
        ListSchema,
        NormalisedRow,
        PhoneColumnSpec,
    )
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
        assert isinstance(role_id, int)
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
                for n in range(agents)
            ],
        )
        queue = SqlQueueStore(session).add_queue(name="bench", description="", now=now)
        session.execute(
            insert(QueueMember),
            [{"queue_id": queue.id, "user_id": n + 1, "added_at": now} for n in range(agents)],
        )
        schema = ListSchema(
            columns=(
                ColumnSpec(name="account"),
                ColumnSpec(name="phone"),
                ColumnSpec(name="agent"),
                ColumnSpec(name="balance", type=FieldType.NUMBER),
                ColumnSpec(name="notes", editable=True),
            ),
            phone_columns=(PhoneColumnSpec(column="phone"),),
            agent_owned_column="agent",
            default_timezone=PHOENIX,
        )
        contact_list = core_lists.create_list(
            SqlTransaction(session), SYSTEM, name="bench", description="", schema=schema, now=now
        )
        job = ImportJob(list_id=contact_list.id, source="bench", format="json", started_at=now)
        session.add(job)
        session.flush()
        sink = SqlRecordSink(session, contact_list.id, job.id, now)
        batch: list[NormalisedRow] = []
        for n in range(records):
            batch.append(
                NormalisedRow(
                    line=n + 2,
                    key=None,
                    data={
                        "account": f"B{n:07d}",
                        "phone": f"602{n:07d}",
                        "agent": f"ag{n % agents}",
                        "balance": str(n * 7919 % 100000),
                    },
                    phones=[f"+1602{200 + n // 10000:03d}{n % 10000:04d}"],
                    tz=PHOENIX,
                )
            )
            if len(batch) == 20000:
                sink.write(batch)
                batch = []
        if batch:
            sink.write(batch)
        campaign = core_campaigns.create_campaign(
            SqlTransaction(session),
            SYSTEM,
            campaign_spec("bench", contact_list.id, queue.id),
            now=now,
        )
        campaign_id = campaign.id
    started = time.perf_counter()
    if start:
        with db.write() as session:
            core_campaigns.change_state(
                SqlTransaction(session), SYSTEM, campaign_id, CampaignAction.START, now=now
            )
    start_s = time.perf_counter() - started
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    return campaign_id, start_s


def campaign_spec(name: str, list_id: int, queue_id: int) -> Any:
    """The bench's agent-owned preview campaign over the list, highest balance first."""
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.domain.campaign_values import CampaignSpec
    from callhopper.domain.campaigns import CampaignSettings, DialingMode, SortKey
    from callhopper.domain.ownership import OwnerOrder

    return CampaignSpec(
        name=name,
        description="",
        list_id=list_id,
        queue_id=queue_id,
        wrapup_set_id=1,
        mode=DialingMode.PREVIEW,
        agent_owned_column="agent",
        owner_order=OwnerOrder.EMAIL_FIRST,
        sort=(SortKey(column="balance", descending=True),),
        calling_window=CallingWindow(start="00:00", end="24:00"),
        settings=CampaignSettings(),
    )


def tokens(url: str, first_agent: int, count: int) -> list[str]:
    from callhopper.domain.credentials import new_secret, secret_hash
    from callhopper.store.db import Database
    from callhopper.store.models import AuthToken

    db = Database(url)
    now = datetime.now(UTC)
    secrets_: list[str] = [new_secret("chp_") for _ in range(count)]
    with db.write() as session:
        session.execute(
            insert(AuthToken),
            [
                {
                    "user_id": first_agent + i + 1,
                    "kind": "api",
                    "name": "bench",
                    "token_hash": secret_hash(s),
                    "prefix": s[:10],
                    "created_at": now,
                }
                for i, s in enumerate(secrets_)
            ],
        )
    db.dispose()
    return secrets_


# --- bare ---------------------------------------------------------------------------------------


def bare(
    url: str, campaign_id: int, agent_ids: list[int], seconds: float
) -> tuple[float, list[float]]:
    """Claim + release, straight to the database: one thread per agent on PostgreSQL, one
    connection for all on SQLite. Returns (claims/s, latencies of claim + release)."""
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.store import dispensing
    from callhopper.store.claims import statements as claims
    from callhopper.store.db import Database

    db = Database(url, pool_size=len(agent_ids))
    window = CallingWindow(start="00:00", end="24:00")
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(agents: list[int]) -> None:
        mine: list[float] = []
        turn = 0
        while agents and time.perf_counter() < stop:
            agent_id = agents[turn % len(agents)]
            turn += 1
            now = datetime.now(UTC)
            began = time.perf_counter()
            with db.write() as session:
                request = claims.ClaimRequest(
                    campaign_id=campaign_id,
                    agent_id=agent_id,
                    owned=True,
                    now=now,
                    lease_until=now + timedelta(minutes=30),
                    zones=sorted(window.open_zones(now)),
                    pass_no=1,
                )
                record = claims.claim(session, request)
                if record is None:
                    agents.remove(agent_id)
                    continue
                dispensing.release(session, campaign_id, record, agent_id, status="final")
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    if db.dialect == "sqlite":
        loop(list(agent_ids))
    else:
        threads = [threading.Thread(target=loop, args=([a],)) for a in agent_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - started
    db.dispose()
    return len(latencies) / elapsed, latencies


# --- http -----------------------------------------------------------------------------------------


async def _client(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    campaign_id: int,
    stop: float,
    latencies: list[float],
    counter: list[int],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    campaign = f"{base}/api/v1/agent/campaigns/{campaign_id}"
    while time.perf_counter() < stop:
        began = time.perf_counter()
        async with http.post(f"{campaign}/get-record", headers=headers) as got:
            got.raise_for_status()
            delivery = (await got.json())["delivery"]
        latencies.append(time.perf_counter() - began)
        if delivery is None:
            return
        record = f"{campaign}/records/{delivery['record_id']}"
        async with http.post(f"{record}/done", json={"code": "sale"}, headers=headers) as done:
            done.raise_for_status()
        counter[0] += 1


def http(
    base: str, campaign_id: int, agent_tokens: list[str], seconds: float
) -> tuple[float, list[float]]:
    """``agent_tokens`` clients in a closed loop, each on its own connection. The client is
    aiohttp: httpx spent more CPU per request than the server at 200 clients, and on two
    CPUs that measured the load generator rather than the server."""
    latencies: list[float] = []
    counter = [0]

    async def run() -> None:
        stop = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=0)  # one connection per client
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(
                *(
                    _client(session, base, t, campaign_id, stop, latencies, counter)
                    for t in agent_tokens
                )
            )

    started = time.perf_counter()
    asyncio.run(run())
    return counter[0] / (time.perf_counter() - started), latencies


# --- shared list ----------------------------------------------------------------------------------


def shared_list(url: str, first_agent: int, clients: int, seconds: float) -> tuple[float, float]:
    """Get Record → Done(sale) through the dispenser (no HTTP): one campaign alone, then two
    campaigns on the same list with campaign ownership on, ``clients`` agents in all.
    Returns (claims/s alone, claims/s shared)."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.core import ownership as core_ownership
    from callhopper.domain.actors import SYSTEM
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.domain.campaign_ownership import OwnershipSettings
    from callhopper.domain.campaign_values import CampaignSpec
    from callhopper.domain.campaigns import CampaignAction, CampaignSettings, DialingMode
    from callhopper.domain.ownership import OwnerOrder
    from callhopper.store.db import Database
    from callhopper.store.uow import SqlTransaction

    def campaign(name: str) -> int:
        db = Database(url)
        now = datetime.now(UTC)
        with db.write() as session:
            created = core_campaigns.create_campaign(
                SqlTransaction(session),
                SYSTEM,
                CampaignSpec(
                    name=name,
                    description="",
                    list_id=1,
                    queue_id=1,
                    wrapup_set_id=1,
                    mode=DialingMode.PREVIEW,
                    agent_owned_column=None,
                    owner_order=OwnerOrder.EMAIL_FIRST,
                    sort=(),
                    calling_window=CallingWindow(start="00:00", end="24:00"),
                    settings=CampaignSettings(),
                ),
                now=now,
            )
            core_campaigns.change_state(
                SqlTransaction(session), SYSTEM, created.id, CampaignAction.START, now=now
            )
            campaign_id = created.id
        db.dispose()
        return campaign_id

    alone = campaign("alone")
    agents = list(range(first_agent + 1, first_agent + clients + 1))
    rate_alone = _dispense(url, [(alone, a) for a in agents], seconds)
    db = Database(url)
    with db.write() as session:
        core_ownership.update_settings(
            SqlTransaction(session),
            SYSTEM,
            1,
            OwnershipSettings(enabled=True, hours=8),
            now=datetime.now(UTC),
        )
    db.dispose()
    shared = (campaign("shared A"), campaign("shared B"))
    agents = list(range(first_agent + clients + 1, first_agent + 2 * clients + 1))
    rate_shared = _dispense(url, [(shared[n % 2], a) for n, a in enumerate(agents)], seconds)
    return rate_alone, rate_shared


def _dispense(url: str, work: list[tuple[int, int]], seconds: float) -> float:
    from callhopper.clock import SystemClock
    from callhopper.core.dispensing import Delivery, Dispenser
    from callhopper.store.db import Database
    from callhopper.store.models import User
    from callhopper.store.uow import SqlUnitOfWork
    from callhopper.store.users import actor_of

    db = Database(url, pool_size=min(40, len(work)), pool_timeout_s=600)
    dispenser = Dispenser(SqlUnitOfWork(db), SystemClock())
    with db.read() as session:
        actors = {a: actor_of(session, session.get(User, a)) for _, a in work}  # type: ignore[arg-type]
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(campaign_id: int, agent: int) -> None:
        count = 0
        while time.perf_counter() < stop:
            delivery = dispenser.get_record(actors[agent], campaign_id)
            if not isinstance(delivery, Delivery):
                break
            dispenser.done(actors[agent], campaign_id, delivery.record_id, code="sale")
            count += 1
        with lock:
            done[0] += count

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=pair) for pair in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    db.dispose()
    return done[0] / elapsed


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str]) -> None:
    if "--open-loop" in argv:  # the open-loop mode (bench/open_bench.py)
        from bench import open_bench

        open_bench.main([a for a in argv if a != "--open-loop"])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--light-clients", type=int, default=10, help="clients of the low-concurrency HTTP row"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if args.agents < 4 * args.clients:
        raise SystemExit("--agents must be at least 4 x --clients (each measure has its own)")

    rows: list[list[object]] = []
    verdicts: list[str] = []
    backends = []
    if not args.no_postgres:
        # bare: one connection per client; then the server's pool, the pusher and spares
        require_postgres_connections(args.clients + 60)
        backends.append(("PostgreSQL", fresh_postgres))
    if not args.no_sqlite:
        backends.append(("SQLite", lambda: fresh_sqlite("dispense")))
    for name, fresh in backends:
        with fresh() as url:  # type: ignore[operator]
            print(f"{name}: setting up {args.agents} agents, {args.records} records …", flush=True)
            began = time.perf_counter()
            campaign_id, start_s = setup(url, args.agents, args.records)
            print(
                f"  set up in {time.perf_counter() - began:.0f} s (campaign start {start_s:.1f} s)",
                flush=True,
            )
            bare_agents = list(range(1, args.clients + 1))
            bare_rate, bare_lat = bare(url, campaign_id, bare_agents, args.seconds)
            print(f"  bare: {bare_rate:,.0f} claims/s", flush=True)
            agent_tokens = tokens(url, args.clients, args.clients)
            with serve(url, "dispense_serve.log") as base:
                http(base, campaign_id, agent_tokens[:5], 1.0)  # warm up
                http_rate, http_lat = http(base, campaign_id, agent_tokens, args.seconds)
                # The same with few clients: the latency of the server itself, not of the
                # queue that 200 clients in a closed loop build in front of it.
                light = agent_tokens[: args.light_clients]
                light_rate, light_lat = http(base, campaign_id, light, args.seconds)
            print(f"  http: {http_rate:,.0f} claims/s ({light_rate:,.0f} light)", flush=True)
            alone, shared = shared_list(url, 2 * args.clients, args.clients, args.seconds)
            print(f"  alone {alone:,.0f}/s, shared with ownership {shared:,.0f}/s", flush=True)
            ratio = http_rate / bare_rate if bare_rate else float("nan")
            how = f"{args.clients} connections" if name == "PostgreSQL" else "serial"
            rows.append(
                [
                    name,
                    f"bare claim + release ({how})",
                    f"{bare_rate:,.0f}",
                    f"{pct(bare_lat, 0.5):.1f}",
                    f"{pct(bare_lat, 0.99):.1f}",
                    "",
                ]
            )
            rows.append(
                [
                    name,
                    f"HTTP Get Record → Done ({args.clients} clients)",
                    f"{http_rate:,.0f}",
                    f"{pct(http_lat, 0.5):.1f}",
                    f"{pct(http_lat, 0.99):.1f}",
                    f"{ratio:.0%} of bare",
                ]
            )
            rows.append(
                [
                    name,
                    f"HTTP Get Record → Done ({args.light_clients} clients)",
                    f"{light_rate:,.0f}",
                    f"{pct(light_lat, 0.5):.1f}",
                    f"{pct(light_lat, 0.99):.1f}",
                    "server latency without a queue",
                ]
            )
            rows.append(
                [name, "campaign start (snapshot of every record)", "", "", "", f"{start_s:.1f} s"]
            )
            share = shared / alone if alone else float("nan")
            rows.append(
                [
                    name,
                    f"Get Record → Done, one campaign ({args.clients} agents, no HTTP)",
                    f"{alone:,.0f}",
                    "",
                    "",
                    "",
                ]
            )
            rows.append(
                [
                    name,
                    "same, two campaigns sharing the list, campaign ownership on",
                    f"{shared:,.0f}",
                    "",
                    "",
                    f"{share:.0%} of one campaign",
                ]
            )
            verdicts.append(
                f"* {name}: two campaigns sharing the list with ownership on run at {share:.0%} "
                f"of one campaign — {'meets' if share >= 0.8 else 'MISSES'} the target (≥ 80%)"
            )
            p99 = pct(http_lat, 0.99)
            if name == "PostgreSQL":
                ok = ratio >= 0.3 and p99 < 50
                target = "≥ 30% of bare and p99 < 50 ms"
            else:
                ok = p99 < 100
                target = "p99 < 100 ms"
            verdicts.append(
                f"* {name}: HTTP {http_rate:,.0f} claims/s = {ratio:.0%} of bare "
                f"({bare_rate:,.0f}/s), Get Record p99 {p99:.0f} ms — "
                f"{'meets' if ok else 'MISSES'} the target ({target})"
            )
    report = table(["database", "measure", "claims/s", "p50 ms", "p99 ms", "note"], rows)
    body = (
        f"{args.agents:,} agents, {args.records:,} records, one agent-owned preview campaign, "
        f"{args.clients} clients, {args.seconds:.0f} s per measure.\n\n{report}\n\n"
        + "\n".join(verdicts)
    )
    print(body)
    if not args.no_record:
        append_results("dispense_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
