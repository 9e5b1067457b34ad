"""Crash safety at scale: agents at work while ``callhopper serve`` is killed with SIGKILL.

    python -m bench crash [--agents 100] [--records 10000] [--kills 5] [--seed 1]
                          [--think-s 0.05] [--no-sqlite] [--no-postgres] [--no-two]
                          [--no-record]

Three runs, each on a fresh database: one server process on SQLite, one on PostgreSQL, and
two processes on one PostgreSQL database (agents split across them; a kill takes one of the
two). In each, the agents are split over a preview campaign (Get Record → Call → Done), a
push preview campaign (pushes over the WebSocket, Accept → Call → Done) and a hopper
campaign (enforced lead ownership), 40/30/30, and so are the records. ``--kills`` SIGKILLs
come at seeded random moments while the agents work (:mod:`bench.crash_floor`); at the
first, one preview and one push agent of the killed process desert. When every record is
final, :mod:`bench.crash_checks` counts what was lost and what was handled twice, and checks
the leases held at each kill and the audit log. Recovery times run from the moment the new
process is launched.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from statistics import median

from bench.common import (
    DATA_DIR,
    append_results,
    fresh_postgres,
    fresh_sqlite,
    require_postgres_connections,
    table,
)
from bench.crash_checks import Findings, check
from bench.crash_floor import HOPPER, PREVIEW, PUSH, Floor, Plan, recoveries, run, set_up
from tests.e2e.server import LiveServer

SHARES = {PREVIEW: 0.4, PUSH: 0.3, HOPPER: 0.3}


def split(total: int) -> dict[str, int]:
    """``total`` over the three kinds by :data:`SHARES` (the rest to preview)."""
    parts = {kind: int(total * share) for kind, share in SHARES.items()}
    parts[PREVIEW] += total - sum(parts.values())
    return parts


def seconds(values: list[float], pick: Callable[[list[float]], float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    never = len(values) - len(finite)
    shown = f"{pick(finite):.1f}" if finite else "-"
    return shown + (f" ({never} never)" if never else "")


def run_variant(
    name: str, fresh: Callable[[], AbstractContextManager[str]], servers: int, plan: Plan
) -> tuple[Floor, Findings]:
    with fresh() as url, ExitStack() as stack:
        live = []
        for i in range(servers):
            server = LiveServer(database_url=url, log_path=DATA_DIR / f"crash_{name}_{i}.log")
            server.start()
            stack.callback(server.stop)
            live.append(server)
        floor = Floor(plan, url, live)
        began = time.perf_counter()
        set_up(floor)
        print(f"  set up in {time.perf_counter() - began:.0f} s", flush=True)
        asyncio.run(run(floor))
        found = check(floor)
    return floor, found


def row(name: str, floor: Floor, found: Findings, load: str) -> list[object]:
    times = recoveries(floor)
    return [
        name,
        load,
        found.records,
        len(floor.agents),
        len(floor.kills),
        len(found.lost),
        len(found.duplicated),
        f"{found.held_at_kills} ({found.resumed} back, {found.lapsed} lapsed, "
        f"{len(found.unrecovered)} not)",
        "ok" if not found.audit else f"{len(found.audit)} wrong",
        len(found.lost_events),
        seconds([t.up_s for t in times], median),
        seconds([t.first_get_record_s for t in times], median),
        seconds([t.all_answered_s for t in times], max),
        seconds([t.all_delivered_s for t in times], max),
        f"{floor.ended_at - floor.started_at:.0f}",
    ]


HEADERS = [
    "run",
    "load average (start → end)",
    "records",
    "agents",
    "kills",
    "lost",
    "duplicated",
    "leases held at kills",
    "audit",
    "lost events",
    "server up (median s)",
    "first Get Record (median s)",
    "all agents answered (max s)",
    "all agents have a record (max s)",
    "run (s)",
]


def variants(args: argparse.Namespace) -> Iterator[tuple[str, Callable[..., object], int]]:
    if not args.no_sqlite:
        yield "SQLite", lambda: fresh_sqlite("crash"), 1
    if not args.no_postgres:
        yield "PostgreSQL", fresh_postgres, 1
    if not args.no_two:
        require_postgres_connections(2 * 24 + 10)  # two processes' pools, the floor's reads
        yield "PostgreSQL, 2 processes", fresh_postgres, 2


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think-s", type=float, default=0.05)
    parser.add_argument("--deadline-s", type=float, default=3600)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-two", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--note", default="", help="a line written above the table")
    args = parser.parse_args(argv)
    rows, problems = [], []
    for name, fresh, servers in variants(args):
        print(
            f"{name}: {args.agents} agents, {args.records} records, {args.kills} kills", flush=True
        )
        plan = Plan(
            agents=split(args.agents),
            records=split(args.records),
            servers=servers,
            kills=args.kills,
            think_s=args.think_s,
            seed=args.seed,
            deadline_s=args.deadline_s,
        )
        load_before = os.getloadavg()[0]
        floor, found = run_variant(name.split(",")[0].lower() + str(servers), fresh, servers, plan)
        rows.append(row(name, floor, found, f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"))
        print(f"  {found.summary()}; timed out: {floor.timed_out}", flush=True)
        if not found.clean or floor.timed_out:
            problems.append(f"{name}: {found.summary()}")
    result = table(HEADERS, rows)
    print(result)
    if problems:
        print("\n".join(problems))
    if not args.no_record:
        command = "python -m bench crash " + " ".join(argv)
        body = f"`{command.strip()}`\n\n"
        if args.note:
            body += f"{args.note}\n\n"
        append_results("Crash safety: SIGKILL under load", body + result)


if __name__ == "__main__":
    main(sys.argv[1:])
