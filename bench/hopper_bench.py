"""Hopper load at sales-floor size, against the same selection as one hand-written statement.

    python -m bench.hopper_bench [--leads 2000000] [--agents 1000] [--skills 20] [--level 100]
                                 [--repeat 2] [--give-up 10] [--no-sort] [--no-postgres]
                                 [--no-sqlite] [--no-record]

One preview campaign with ``enforce_lead_ownership``, hopper level ``--level``, on a
list of ``--leads`` leads: half owned (evenly across the ``--agents`` agents), half
general, spread evenly over ``--skills`` states. There is one skill per state
(``state == "AZ"``, …) and each agent holds one of them (agent k the skill k mod
``--skills``), so the general leads form ``--skills`` disjoint skills groups. One lead
in 97 has its number on the campaign's do-not-call list. Every agent is logged in. The
campaign sorts by ``balance`` (a number column) descending, then FIFO (``--no-sort``:
FIFO only).

For each database, from an empty hopper, best of ``--repeat`` runs:

* **hand-written**: one ``INSERT … SELECT`` choosing the same leads (deliverable,
  callable, not on the DNC list; top ``level`` per owner and top ``level x agents``
  per skills group, ranked by window functions), with the quotas as parameters; on
  PostgreSQL its transaction has the load's settings (``tune_load_transaction``: more
  ``work_mem``, no JIT), so that the two differ only in their SQL;
* **load**: one full hopper load through ``HopperLoader.load`` (what ``callhopper
  serve`` runs), in its own transaction like the hand-written one;
* **reload**: a second load right after, with nothing to add (the loader polls every
  10 s, so this is its steady-state cost).

A load still running after ``--give-up`` times the hand-written statement (at least
60 s) is stopped and reported as slower than that.

Both fill the hopper with exactly the same leads (checked). Set-up (users, leads
written through ``SqlRecordSink``, campaign start) is not timed; the SQLite set-up is
cached in ``bench/data/`` per size and schema revision.

Target (issue 5): a full load within 2x of the hand-written statement, and under 10 s
on PostgreSQL.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from bench.common import DATA_DIR, append_results, fresh_postgres, fresh_sqlite, table

PHOENIX = "America/Phoenix"
STATES = (
    "AZ", "CA", "NY", "TX", "IL", "FL", "WA", "CO", "GA", "NC",
    "OH", "PA", "MI", "NJ", "VA", "MA", "TN", "IN", "MO", "MD",
    "WI", "MN", "SC", "AL", "LA", "KY", "OR", "OK", "CT", "UT",
)  # fmt: skip
BATCH_ROWS = 20_000
#: One lead in this many has its number on the campaign's do-not-call list (a prime, so
#: that they spread over every owner and every state).
DNC_EVERY = 97
#: A load is never stopped before this, whatever ``--give-up`` says.
MIN_GIVE_UP_S = 60.0
#: Bumped whenever set-up changes, so that stale cached SQLite files are not reused.
SETUP_VERSION = 2


@dataclass(frozen=True)
class Size:
    leads: int
    agents: int
    skills: int
    level: int
    sort: bool

    @property
    def tag(self) -> str:
        return (
            f"v{SETUP_VERSION}_{self.leads}_{self.agents}_{self.skills}_{self.level}_"
            f"{'sort' if self.sort else 'fifo'}"
        )


@dataclass(frozen=True)
class Bench:
    """What set-up made: the campaign and the hand-written statement's inputs."""

    campaign_id: int
    #: Logged-in agents' user ids (``users.id``).
    agents: tuple[int, ...]
    #: State → (group key, agents in the group).
    groups: dict[str, tuple[str, int]]


# --- set-up -------------------------------------------------------------------------------------


def _phone(n: int) -> str:
    return f"+1602{2_000_000 + n:07d}"


def setup(url: str, size: Size) -> tuple[float, float]:
    """Agents, skills, queue, list, leads, DNC numbers, a started campaign and every agent
    logged in. Returns (set-up seconds, of which campaign start)."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.core import lists as core_lists
    from callhopper.domain.actors import SYSTEM
    from callhopper.domain.calling_window import CallingWindow
    from callhopper.domain.campaign_values import CampaignSpec
    from callhopper.domain.campaigns import CampaignAction, CampaignSettings, DialingMode, SortKey
    from callhopper.domain.contacts import (
        ColumnSpec,
        FieldType,
        ListSchema,
        NormalisedRow,
        PhoneColumnSpec,
    )
    from callhopper.domain.ownership import OwnerOrder
    from callhopper.store import dnc
    from callhopper.store.db import Database
    from callhopper.store.migrate import ensure_schema
    from callhopper.store.models import (
        AgentSession,
        DncNumber,
        ImportJob,
        QueueMember,
        Skill,
        User,
        UserSkill,
    )
    from callhopper.store.queues import SqlQueueStore
    from callhopper.store.records import SqlRecordSink, index_phones
    from callhopper.store.uow import SqlTransaction

    began = time.perf_counter()
    db = Database(url)
    ensure_schema(db)
    now = datetime.now(UTC)
    states = STATES[: size.skills]
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
                for n in range(size.agents)
            ],
        )
        ids: dict[str, int] = dict(session.execute(text("SELECT user_id, id FROM users")).all())
        agent_ids = [int(ids[f"ag{n}"]) for n in range(size.agents)]
        queue = SqlQueueStore(session).add_queue(name="floor", description="", now=now)
        session.execute(
            insert(QueueMember),
            [{"queue_id": queue.id, "user_id": a, "added_at": now} for a in agent_ids],
        )
        session.execute(
            insert(Skill),
            [
                {"name": f"Licensed: {s}", "expression": f'state == "{s}"', "created_at": now}
                for s in states
            ],
        )
        skill_ids: dict[str, int] = dict(session.execute(text("SELECT name, id FROM skills")).all())
        session.execute(
            insert(UserSkill),
            [
                {"user_id": a, "skill_id": skill_ids[f"Licensed: {states[k % len(states)]}"]}
                for k, a in enumerate(agent_ids)
            ],
        )
        schema = ListSchema(
            columns=(
                ColumnSpec(name="lead"),
                ColumnSpec(name="phone"),
                ColumnSpec(name="state"),
                ColumnSpec(name="owner"),
                ColumnSpec(name="balance", type=FieldType.NUMBER),
                ColumnSpec(name="notes", editable=True),
            ),
            phone_columns=(PhoneColumnSpec(column="phone"),),
            lead_owner_column="owner",
            key_column="lead",
            default_timezone=PHOENIX,
        )
        contact_list = core_lists.create_list(
            SqlTransaction(session), SYSTEM, name="leads", description="", schema=schema, now=now
        )
        job = ImportJob(list_id=contact_list.id, source="bench", format="json", started_at=now)
        session.add(job)
        session.flush()
        sink = SqlRecordSink(session, contact_list.id, job.id, now)
        batch: list[NormalisedRow] = []
        for n in range(size.leads):
            # Even leads are owned (round robin over the agents), odd ones general.
            owner = (n // 2) % size.agents if n % 2 == 0 else None
            data = {
                "lead": f"L{n:08d}",
                "phone": _phone(n),
                "state": states[(n // 2) % len(states)],
                "balance": str(n * 7919 % 100_000),
            }
            if owner is not None:
                data["owner"] = f"ag{owner}"
            batch.append(
                NormalisedRow(
                    line=n + 2,
                    key=data["lead"],
                    data=data,
                    phones=[_phone(n)],
                    tz=PHOENIX,
                    owner_id=agent_ids[owner] if owner is not None else None,
                )
            )
            if len(batch) == BATCH_ROWS:
                sink.write(batch)
                batch = []
        if batch:
            sink.write(batch)
        index_phones(session, import_id=job.id)
        campaign = core_campaigns.create_campaign(
            SqlTransaction(session),
            SYSTEM,
            CampaignSpec(
                name="floor",
                description="",
                list_id=contact_list.id,
                queue_id=queue.id,
                wrapup_set_id=1,
                mode=DialingMode.PREVIEW,
                agent_owned_column=None,
                owner_order=OwnerOrder.EMAIL_FIRST,
                sort=(SortKey(column="balance", descending=True),) if size.sort else (),
                calling_window=CallingWindow(start="00:00", end="24:00"),
                settings=CampaignSettings(hopper_level=size.level),
                enforce_lead_ownership=True,
            ),
            now=now,
        )
        campaign_id = campaign.id
        # The campaign's own do-not-call list (idempotent: creating the campaign may have).
        dnc_list = dnc.ensure_campaign_list(session, SYSTEM, campaign_id, "floor", now).id
        session.execute(
            insert(DncNumber),
            [
                {"list_id": dnc_list, "e164": _phone(n), "added_at": now, "source": "import"}
                for n in range(0, size.leads, DNC_EVERY)
            ],
        )
    started = time.perf_counter()
    with db.write() as session:
        core_campaigns.change_state(
            SqlTransaction(session), SYSTEM, campaign_id, CampaignAction.START, now=now
        )
    start_s = time.perf_counter() - started
    with db.write() as session:
        session.execute(
            insert(AgentSession),
            [
                {
                    "campaign_id": campaign_id,
                    "user_id": a,
                    "logged_in_at": now,
                    "receiving": True,
                    "receiving_since": now,
                }
                for a in agent_ids
            ],
        )
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    return time.perf_counter() - began, start_s


def describe(url: str, size: Size) -> Bench:
    """Read back what set-up made (also for a cached SQLite file)."""
    from callhopper.domain.filters import parse_filter
    from callhopper.domain.hopper import agent_filter, group_key
    from callhopper.store.db import Database

    db = Database(url)
    with db.read() as session:
        campaign_id = session.scalar(text("SELECT id FROM campaigns WHERE name = 'floor'"))
        assert isinstance(campaign_id, int)
        agents = tuple(
            int(a)
            for a in session.scalars(
                text("SELECT user_id FROM agent_sessions WHERE campaign_id = :c ORDER BY user_id"),
                {"c": campaign_id},
            )
        )
        groups: dict[str, tuple[str, int]] = {}
        for expression, holders in session.execute(
            text(
                "SELECT s.expression, count(*) FROM skills s "
                "JOIN user_skills us ON us.skill_id = s.id GROUP BY s.expression"
            )
        ):
            state = expression.split('"')[1]
            key = group_key(agent_filter([parse_filter(expression)], None))
            groups[state] = (key, int(holders))
    db.dispose()
    return Bench(campaign_id, agents, groups)


def _cached_sqlite(size: Size) -> Path:
    """A set-up SQLite file for this size and schema revision, made once."""
    from callhopper.store.db import Database
    from callhopper.store.migrate import head_revision

    DATA_DIR.mkdir(exist_ok=True)
    probe = Database(f"sqlite:///{DATA_DIR / 'never-opened.db'}")  # for its migrations only
    revision = head_revision(probe)
    probe.dispose()
    path = DATA_DIR / f"hopper_{size.tag}_{revision}.db"
    if path.exists():
        print(f"  using cached {path.name}", flush=True)
        return path
    tmp = path.with_suffix(".tmp")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    setup_s, start_s = setup(f"sqlite:///{tmp}", size)
    print(f"  set up in {setup_s:.0f} s (campaign start {start_s:.1f} s), cached", flush=True)
    # One self-contained file (the WAL folded in); callhopper turns WAL on again when it opens
    # a copy.
    connection = sqlite3.connect(tmp)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    tmp.rename(path)
    return path


# --- the hand-written statement -----------------------------------------------------------------

#: The hand-written load: one scan of the campaign's records; owned leads ranked per owner,
#: general leads per skills group (each group's skill is ``state == "…"``, so a general
#: lead's group is found by joining on its state).
_HANDWRITTEN = """
WITH grp(state, group_key, quota) AS {materialized} (  -- general leads wanted per group
    {groups}
), candidate AS (  -- deliverable now, callable, not in the hopper, with its rank key
    SELECT r.id, r.owner_id, coalesce({state}, '') AS state, {sort} AS sort_key
    FROM campaign_records cr JOIN records r ON r.id = cr.record_id
    WHERE cr.campaign_id = :campaign
      AND (cr.status = 'ready' OR (cr.status = 'waiting' AND cr.retry_at <= :now)
           OR (cr.status = 'leased' AND cr.lease_expires_at <= :now)
           OR (cr.status = 'blocked' AND cr.blocked_until <= :now))
      AND cr.tz IN ({zones})
      AND (r.owner_campaign_id IS NULL OR r.owner_campaign_id = :campaign
           OR r.owner_until <= :now)
      AND (r.out_campaign_id IS NULL OR r.out_campaign_id = :campaign OR r.out_until <= :now)
      AND (r.owner_id IS NULL OR r.owner_id IN ({agents}))  -- owners logged in
      AND EXISTS (SELECT 1 FROM record_phones p WHERE p.record_id = r.id AND NOT EXISTS (
          SELECT 1 FROM dnc_numbers d JOIN campaign_dnc_lists cd ON cd.dnc_list_id = d.list_id
          WHERE cd.campaign_id = :campaign AND d.e164 = p.e164))
      AND NOT EXISTS (SELECT 1 FROM hopper h WHERE h.campaign_id = :campaign
                      AND h.record_id = r.id)
), ranked AS (  -- owned: per owner; general: per skills group
    SELECT id, owner_id, NULL AS group_key, :owned_quota AS quota,
           row_number() OVER (PARTITION BY owner_id ORDER BY sort_key {desc}, id) AS n
    FROM candidate WHERE owner_id IS NOT NULL
    UNION ALL
    SELECT c.id, NULL, g.group_key, g.quota,
           row_number() OVER (PARTITION BY g.group_key ORDER BY c.sort_key {desc}, c.id)
    FROM candidate c JOIN grp g ON g.state = c.state
    WHERE c.owner_id IS NULL
)
INSERT INTO hopper (campaign_id, record_id, owner_id, group_key, position, direct, loaded_at)
SELECT :campaign, id, owner_id, group_key, n, {false}, :now FROM ranked WHERE n <= quota
"""

#: Per dialect: how the statement reads its list parameters, a field, and the campaign's
#: sort key as the store writes it (a number when the text is numeric).
_DIALECT = {
    "postgresql": {
        "materialized": "",
        "groups": "SELECT * FROM unnest(CAST(:states AS text[]), CAST(:keys AS text[]), "
        "CAST(:group_quotas AS integer[]))",
        "zones": "SELECT unnest(CAST(:zones AS text[]))",
        "agents": "SELECT unnest(CAST(:agents AS integer[]))",
        "state": "r.data ->> 'state'",
        "sort": "CASE WHEN (r.data ->> 'balance') ~ :numeric "
        "THEN CAST(r.data ->> 'balance' AS double precision) END",
        "false": "false",
    },
    "sqlite": {
        "materialized": "MATERIALIZED",
        "groups": "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
        "json_extract(value, '$[2]') FROM json_each(:groups)",
        "zones": "SELECT value FROM json_each(:zones)",
        "agents": "SELECT value FROM json_each(:agents)",
        "state": "json_extract(r.data, '$.\"state\"')",
        "sort": "CASE WHEN json_extract(r.data, '$.\"balance\"') REGEXP :numeric "
        "THEN CAST(json_extract(r.data, '$.\"balance\"') AS REAL) END",
        "false": "0",
    },
}


def handwritten(url: str, bench: Bench, size: Size) -> float:
    """The load's selection as one statement, with the quotas of an empty hopper (the
    level for each agent, the level times its agents for each group); its seconds."""
    import json

    from callhopper.domain.filters import NUMERIC_PATTERN
    from callhopper.domain.hopper import general_quota, owned_quota
    from callhopper.store.db import Database
    from callhopper.store.hopper_load import tune_load_transaction
    from callhopper.store.records import sqlite_timestamp

    db = Database(url)
    now = datetime.now(UTC)
    # From an empty hopper every agent is owed a full chunk; the hard cap only binds
    # general quotas above level 500, when an agent's owned leads are counted in.
    owned = owned_quota(size.level, 0)
    groups = sorted(
        (state, key, general_quota(size.level, n, 0, [owned] * n))
        for state, (key, n) in bench.groups.items()
    )
    parts = dict(_DIALECT[db.dialect])
    if not size.sort:
        parts["sort"] = "NULL"
    statement = _HANDWRITTEN.format(**parts, desc="DESC NULLS LAST" if size.sort else "")
    params: dict[str, Any] = {
        "campaign": bench.campaign_id,
        "numeric": NUMERIC_PATTERN,
        "owned_quota": owned,
    }
    if db.dialect == "postgresql":
        params |= {
            "agents": list(bench.agents),
            "states": [g[0] for g in groups],
            "keys": [g[1] for g in groups],
            "group_quotas": [g[2] for g in groups],
            "zones": [PHOENIX],
            "now": now,
        }
    else:
        params |= {
            "agents": json.dumps(bench.agents),
            "groups": json.dumps(groups),
            "zones": json.dumps([PHOENIX]),
            "now": sqlite_timestamp(now),
        }
    started = time.perf_counter()
    with db.write() as session:
        if db.dialect == "postgresql":
            tune_load_transaction(session)  # the load's settings (memory, no JIT), for both
        session.execute(text(statement), params)
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds


# --- the load -----------------------------------------------------------------------------------


def hopper_contents(url: str, campaign_id: int) -> set[tuple[int, int | None, str | None]]:
    from callhopper.store.db import Database

    db = Database(url)
    with db.read() as session:
        rows = session.execute(
            text("SELECT record_id, owner_id, group_key FROM hopper WHERE campaign_id = :c"),
            {"c": campaign_id},
        )
        found = {(int(r), o, g) for r, o, g in rows}
    db.dispose()
    return found


def empty_hopper(url: str) -> None:
    from callhopper.store.db import Database

    db = Database(url)
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE hopper")
    else:
        with db.write() as session:
            session.execute(text("DELETE FROM hopper"))
    db.dispose()


class Watchdog:
    """Stops whatever the connections of one database are running once a deadline passes
    (``sqlite3`` ``interrupt()``, psycopg ``cancel_safe()``), so that a pathological load
    is reported as such instead of running for hours."""

    def __init__(self, engine: Any) -> None:
        self.connections: list[Any] = []
        event.listen(engine, "connect", lambda dbapi, _record: self.connections.append(dbapi))

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[threading.Event]:
        fired = threading.Event()

        def fire() -> None:
            fired.set()
            for connection in list(self.connections):
                with suppress(Exception):  # closed, or nothing running
                    if hasattr(connection, "interrupt"):
                        connection.interrupt()
                    else:
                        connection.cancel_safe()

        timer = threading.Timer(seconds, fire)
        timer.start()
        try:
            yield fired
        finally:
            timer.cancel()


@dataclass
class Timings:
    handwritten: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    reload: list[float] = field(default_factory=list)
    rows: int = 0
    load_rows: int = 0
    same: bool = True
    #: A load ran past ``--give-up`` x the hand-written time and was stopped then.
    stopped_after: float | None = None


def measure(url: str, bench: Bench, size: Size, repeat: int, give_up: float) -> Timings:
    from callhopper.clock import SystemClock
    from callhopper.core.hopper import HopperLoader
    from callhopper.store.db import Database
    from callhopper.store.uow import SqlUnitOfWork

    db = Database(url)
    watchdog = Watchdog(db.engine)
    # One loader for all runs: its worker lease on the campaign stays its own.
    loader = HopperLoader(SqlUnitOfWork(db), SystemClock())
    timings = Timings()
    for run in range(repeat):
        empty_hopper(url)
        timings.handwritten.append(handwritten(url, bench, size))
        expected = hopper_contents(url, bench.campaign_id)
        timings.rows = len(expected)
        empty_hopper(url)
        limit = max(MIN_GIVE_UP_S, give_up * timings.handwritten[-1])
        started = time.perf_counter()
        with watchdog.deadline(limit) as fired:
            try:
                report = loader.load(bench.campaign_id)
            except Exception:
                if not fired.is_set():
                    raise
                report = None
        seconds = time.perf_counter() - started
        if fired.is_set():
            timings.stopped_after = seconds
            print(
                f"  run {run + 1}: hand-written {timings.handwritten[-1]:.2f} s, load stopped "
                f"after {seconds:.0f} s ({give_up:g}x the hand-written)",
                flush=True,
            )
            break
        timings.load.append(seconds)
        assert report is not None, "another loader holds the campaign's lease"
        timings.load_rows = report.added
        got = hopper_contents(url, bench.campaign_id)
        if got != expected:
            timings.same = False
            print(
                f"  run {run + 1}: load and hand-written differ: {len(got - expected)} only in "
                f"the load, {len(expected - got)} only in the hand-written",
                flush=True,
            )
        started = time.perf_counter()
        again = loader.load(bench.campaign_id)
        timings.reload.append(time.perf_counter() - started)
        assert again is not None and again.added == 0, again
        print(
            f"  run {run + 1}: hand-written {timings.handwritten[-1]:.2f} s, "
            f"load {timings.load[-1]:.2f} s, reload {timings.reload[-1]:.2f} s "
            f"({report.added:,} leads)",
            flush=True,
        )
    db.dispose()
    return timings


# --- the run ------------------------------------------------------------------------------------


@contextmanager
def sqlite_copy(size: Size) -> Iterator[str]:
    """A fresh copy of the cached set-up SQLite file; yields its URL."""
    cached = _cached_sqlite(size)
    with fresh_sqlite("hopper") as url:
        shutil.copyfile(cached, url.removeprefix("sqlite:///"))
        yield url


@contextmanager
def set_up_postgres(size: Size) -> Iterator[str]:
    """A fresh PostgreSQL database, set up; yields its URL."""
    with fresh_postgres() as url:
        setup_s, start_s = setup(url, size)
        print(f"  set up in {setup_s:.0f} s (campaign start {start_s:.1f} s)", flush=True)
        yield url


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=2_000_000)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--skills", type=int, default=20, choices=range(1, len(STATES) + 1))
    parser.add_argument("--level", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2, help="Runs per measure; best is kept.")
    parser.add_argument(
        "--give-up",
        type=float,
        default=10,
        help="Stop a load that takes this many times the hand-written statement "
        f"(at least {MIN_GIVE_UP_S:.0f} s) and report it as slower than that.",
    )
    parser.add_argument("--no-sort", action="store_true", help="FIFO only, no campaign sort.")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md.")
    args = parser.parse_args(argv)
    if args.leads < 2 * args.agents:
        raise SystemExit("--leads must be at least 2 x --agents (every agent owns a lead)")
    size = Size(args.leads, args.agents, args.skills, args.level, not args.no_sort)

    backends: list[tuple[str, Callable[[Size], AbstractContextManager[str]]]] = []
    if not args.no_postgres:
        backends.append(("PostgreSQL", set_up_postgres))
    if not args.no_sqlite:
        backends.append(("SQLite", sqlite_copy))
    rows: list[list[object]] = []
    verdicts: list[str] = []
    for name, fresh in backends:
        print(f"{name}: {size.leads:,} leads, {size.agents:,} agents …", flush=True)
        with fresh(size) as url:
            bench = describe(url, size)
            t = measure(url, bench, size, args.repeat, args.give_up)
        best_hw = min(t.handwritten)
        rows.append([name, "hand-written INSERT … SELECT", f"{best_hw:.2f}", f"{t.rows:,}", ""])
        if not t.load:  # the first load was stopped
            assert t.stopped_after is not None
            rows.append(
                [
                    name,
                    "full load (HopperLoader.load)",
                    f"> {t.stopped_after:.0f} (stopped)",
                    "",
                    f"> {args.give_up:g}x hand-written",
                ]
            )
            verdicts.append(
                f"* {name}: full load stopped after {t.stopped_after:.0f} s, more than "
                f"{args.give_up:g}x the hand-written statement ({best_hw:.2f} s) — MISSES the "
                "target (≤ 2x" + (", < 10 s)" if name == "PostgreSQL" else ")")
            )
            continue
        best_load, best_reload = min(t.load), min(t.reload)
        ratio = best_load / best_hw
        rows.append(
            [
                name,
                "full load (HopperLoader.load)",
                f"{best_load:.2f}",
                f"{t.load_rows:,}",
                f"{ratio:.1f}x hand-written" + ("" if t.same else " (DIFFERENT LEADS)"),
            ]
        )
        rows.append([name, "reload, hopper already full", f"{best_reload:.2f}", "0", ""])
        ok = ratio <= 2 and t.same and (name != "PostgreSQL" or best_load < 10)
        target = "≤ 2x and < 10 s" if name == "PostgreSQL" else "≤ 2x"
        stopped = (
            f"; a later run was stopped after {t.stopped_after:.0f} s"
            if t.stopped_after is not None
            else ""
        )
        verdicts.append(
            f"* {name}: full load {best_load:.2f} s = {ratio:.1f}x the hand-written statement "
            f"({best_hw:.2f} s), {'the same' if t.same else 'DIFFERENT'} {t.rows:,} leads"
            f"{stopped} — {'meets' if ok else 'MISSES'} the target ({target})"
        )
    report = table(["database", "measure", "seconds", "leads", "ratio"], rows)
    body = (
        f"{size.leads:,} leads (half owned, half general over {size.skills} states), "
        f"{size.agents:,} logged-in agents in {size.skills} skills groups, hopper level "
        f"{size.level}, {'sorted by balance, then FIFO' if size.sort else 'FIFO'}; "
        f"best of {args.repeat}.\n\n{report}\n\n" + "\n".join(verdicts)
    )
    print(body)
    if not args.no_record:
        append_results("hopper_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
