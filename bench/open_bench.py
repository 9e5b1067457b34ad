"""Open-loop Get Record → Call → Done against one `callhopper serve`, beside the bare floor
and pgbench, in the same run (``python -m bench.dispense_bench --open-loop …``).

    python -m bench.dispense_bench --open-loop [--agents 10000] [--records 1000000]
        [--rates 25 50 100] [--seconds 30] [--saturate-clients 32] [--saturate-seconds 20]
        [--overload] [--overload-seconds 60] [--recover-seconds 30] [--target-ms 50]
        [--pgbench-seconds 10] [--no-two] [--keep] [--port 8160]
        [--no-postgres] [--no-sqlite] [--no-record]

For each database, one agent-owned preview campaign of ``--records`` records owned by
``--agents`` agents, every agent logged in over the API first. Then, in order:

1. **floor**: the bare ASGI app (:mod:`bench.floor_app`) on uvicorn runs the product's own
   claim, call and release statements (:mod:`bench.floor_sql`), saturated by
   ``--saturate-clients`` clients in a closed loop;
2. **open loop** at each of ``--rates`` (cycles per second in all) for ``--seconds``
   (:mod:`bench.open_loop`), then the product **saturated** like the floor;
3. with ``--overload``: twice the saturated rate for ``--overload-seconds``, then half of it
   for ``--recover-seconds``: refusals (503 with Retry-After) and their latency, resets, and
   how long Get Record's p99 takes to come back under ``--target-ms``;
4. on PostgreSQL: two processes behind one port (:mod:`bench.shared_port`, each with half
   the pool) saturated the same way, and ``pgbench`` (8 clients, prepared) on the same
   statements;
5. the database checked: no record done twice, no lease left behind by a finished cycle.

CPU per cycle comes from ``/proc/<pid>/stat`` of the server processes, of PostgreSQL's
backends of the bench's database, and of this client.

``--keep`` builds the database once under a name of its scale (``bench/data/open_<agents>_
<records>.db``, PostgreSQL database ``chbench_open_<agents>_<records>``), reuses it on the
next run, and keeps it (each run uses up records: about the cycles it makes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import floor_sql
from bench.common import (
    DATA_DIR,
    append_results,
    fresh_postgres,
    fresh_sqlite,
    pg_admin_url,
    raise_open_files,
    table,
)
from bench.open_loop import (
    CpuWatch,
    Server,
    Tally,
    Target,
    closed_loop,
    cpu_s,
    floor_command,
    open_loop,
    pct,
    pg_backends,
    product_command,
    recovery_s,
    run_servers,
    shared_port_command,
)

HEADERS = [
    "database", "run", "offered/s", "achieved/s",
    "Get Record p50/p99/max ms", "Call p50/p99/max ms", "Done p50/p99/max ms",
    "503 (p99 ms)", "errors", "client lag p99/max ms",
    "CPU ms/cycle: server", "PostgreSQL", "client",
]  # fmt: skip


@dataclass
class Row:
    label: str
    offered: float | None
    tally: Tally
    cpu: CpuWatch

    @property
    def rate(self) -> float:
        return self.tally.cycles / self.tally.seconds

    def cells(self, database: str) -> list[object]:
        t, n = self.tally, max(self.tally.cycles, 1)

        def lat(step: str) -> str:
            values = t.latency[step]
            return "/".join(f"{pct(values, q):.0f}" for q in (0.5, 0.99, 1.0)) if values else "-"

        errors = ", ".join(f"{k}: {v}" for k, v in sorted(t.errors.items())) or "0"
        refused = f"{len(t.refused)} ({pct(t.refused, 0.99):.0f})" if t.refused else "0"
        lag = f"{pct(t.lag, 0.99):.0f}/{pct(t.lag, 1.0):.0f}" if t.lag else "-"
        return [
            database,
            self.label,
            f"{self.offered:.0f}" if self.offered else "closed loop",
            f"{self.rate:.1f}",
            lat("get_record"),
            lat("call"),
            lat("done"),
            refused,
            errors,
            lag,
            f"{self.cpu.server_s * 1000 / n:.1f}",
            f"{self.cpu.pg_s * 1000 / n:.1f}" if self.cpu.database else "-",
            f"{self.cpu.client_s * 1000 / n:.1f}",
        ]


# --- databases ---------------------------------------------------------------------------------


@contextmanager
def kept_sqlite(name: str) -> Iterator[str]:
    DATA_DIR.mkdir(exist_ok=True)
    yield f"sqlite:///{DATA_DIR / name}.db"


@contextmanager
def kept_postgres(name: str) -> Iterator[str]:
    engine = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    yield make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def ready_campaign(url: str, agents: int, records: int) -> tuple[int, bool]:
    """The bench campaign of this database, built if missing: (its id, whether it was
    already there)."""
    from bench.dispense_bench import setup

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id FROM campaigns WHERE name = 'bench'")).scalar()
    except Exception:
        found = None
    engine.dispose()
    if found is not None:
        return int(found), True
    print(f"  building {agents:,} agents, {records:,} records …", flush=True)
    campaign_id, _ = setup(url, agents, records)
    return campaign_id, False


def db_name(url: str) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "postgresql" else None


# --- the runs ----------------------------------------------------------------------------------


def measured(
    label: str, offered: float | None, server: Server, database: str | None, run: Any
) -> Row:
    with CpuWatch(server.pids, database) as cpu:
        tally = asyncio.run(run)
    row = Row(label, offered, tally, cpu)
    print(f"    {label}: {row.rate:.1f} cycles/s, errors {dict(tally.errors)}", flush=True)
    return row


async def log_in(target: Target, campaign_id: int, agents: int) -> float:
    """Every agent logged in to the campaign (64 at a time); seconds it took."""
    from bench.open_loop import session

    began = time.perf_counter()
    gate = asyncio.Semaphore(64)
    async with session(64, 120) as http:

        async def one(n: int) -> None:
            async with gate:
                while True:
                    url = f"{target.base}/api/v1/agent/campaigns/{campaign_id}/login"
                    headers = {"Authorization": f"Bearer {target.tokens[n]}"}
                    async with http.post(url, headers=headers) as response:
                        if response.status == 503:
                            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                            continue
                        if response.status != 204:
                            raise RuntimeError(
                                f"login {n}: {response.status} {await response.text()}"
                            )
                        return

        await asyncio.gather(*(one(n) for n in range(agents)))
    return time.perf_counter() - began


def pgbench(
    url: str, cycle: floor_sql.Cycle, agents: int, seconds: float
) -> tuple[float, CpuWatch]:
    """pgbench, 8 clients, prepared, on the claim, call and release (one transaction each,
    as in the product); (cycles per second, CPU)."""
    script = DATA_DIR / "open_pgbench.sql"
    body = floor_sql.pgbench_script(cycle)
    # each step in its own transaction, as the product runs them
    lines = body.splitlines()
    out, step_sizes = [lines[0]], [len(cycle[s]) for s in floor_sql.STEPS]
    at = 1
    for size in step_sizes:
        out += ["BEGIN;", *lines[at : at + size], "COMMIT;"]
        at += size
    script.write_text("\n".join(out) + "\n")
    parsed = make_url(url)
    dsn = f"postgresql://{parsed.username}@{parsed.host}:{parsed.port or 5432}/{parsed.database}"
    command = ["pgbench", "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", str(int(seconds)),
               "-D", f"agents={agents}", "-f", str(script), dsn]  # fmt: skip
    # pgbench's backends live only while it runs: their CPU is sampled as it goes.
    seen: dict[int, float] = {}
    with CpuWatch([], parsed.database) as cpu:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        while process.poll() is None:
            for pid in pg_backends(str(parsed.database)):
                seen[pid] = max(seen.get(pid, 0.0), cpu_s([pid]))
            time.sleep(0.25)
        stdout, stderr = process.communicate()
    cpu.pg_s = sum(seen.values())
    match = re.search(r"tps = ([\d.]+)", stdout)
    if process.returncode != 0 or not match:
        print(stdout[-2000:], stderr[-2000:], flush=True)
        return float("nan"), cpu
    return float(match.group(1)), cpu


def return_leases(url: str, campaign_id: int) -> int:
    """Return the leases an earlier run on a kept database left open (cycles cut short by
    errors): the floor's and pgbench's claims would find their agents still holding one."""
    engine = create_engine(url)
    with engine.begin() as conn:
        returned = conn.execute(
            text(
                "UPDATE campaign_records SET status = 'ready', lease_agent_id = NULL, "
                "lease_expires_at = NULL, leased_at = NULL WHERE campaign_id = :c "
                "AND status = 'leased'"
            ),
            {"c": campaign_id},
        ).rowcount
        conn.execute(
            text(
                "UPDATE records SET out_campaign_id = NULL, out_until = NULL "
                "WHERE out_campaign_id = :c"
            ),
            {"c": campaign_id},
        )
    engine.dispose()
    return int(returned)


def check_database(url: str, campaign_id: int) -> dict[str, int]:
    """What the database says after the run: records done twice, leases open, finals."""
    engine = create_engine(url)
    with engine.connect() as conn:
        twice = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT record_id FROM interactions WHERE campaign_id = :c "
                "AND kind = 'wrapup' GROUP BY record_id HAVING count(*) > 1) AS t"
            ),
            {"c": campaign_id},
        ).scalar_one()
        states = dict(
            conn.execute(
                text(
                    "SELECT status, count(*) FROM campaign_records WHERE campaign_id = :c "
                    "GROUP BY status"
                ),
                {"c": campaign_id},
            ).all()
        )
        wrapups = conn.execute(
            text("SELECT count(*) FROM interactions WHERE campaign_id = :c AND kind = 'wrapup'"),
            {"c": campaign_id},
        ).scalar_one()
    engine.dispose()
    return {
        "done twice": twice,
        "wrap-ups": wrapups,
        **{f"status {k}": v for k, v in states.items()},
    }


def run_database(
    name: str, fresh: Callable[[], AbstractContextManager[str]], args: argparse.Namespace
) -> tuple[list[list[object]], list[str]]:
    from bench.dispense_bench import tokens

    rows: list[Row] = []
    notes: list[str] = []
    with fresh() as url:
        print(f"{name}:", flush=True)
        campaign_id, reused = ready_campaign(url, args.agents, args.records)
        database = db_name(url)
        returned = return_leases(url, campaign_id)
        if returned:
            notes.append(f"{name}: {returned} leases left open by an earlier run were returned")
        before = check_database(url, campaign_id)
        # the floor's statements, captured from the store for the last agent (rolled back)
        cycle = floor_sql.capture(url, campaign_id, args.agents)
        sql_file = DATA_DIR / f"open_floor_{name.lower()}_{args.port}.json"
        floor_sql.save(cycle, sql_file)
        agents = list(range(args.agents))
        sat = args.saturate_clients
        floor_env = {
            "BENCH_FLOOR_URL": url,
            "BENCH_FLOOR_SQL": str(sql_file),
            "BENCH_FLOOR_POOL": "20",
        }
        with run_servers(
            [floor_command(args.port)], args.port, floor_env, f"open_floor_{args.port}"
        ) as server:
            target = Target(server.base, campaign_id)
            asyncio.run(closed_loop(target, agents, 4, 2))  # warm up
            floor = measured(
                "bare floor, saturated",
                None,
                server,
                database,
                closed_loop(target, agents, sat, args.saturate_seconds),
            )
        rows.append(floor)
        if database:
            tps, pg_cpu = pgbench(url, cycle, args.agents, args.pgbench_seconds)
            per = pg_cpu.pg_s * 1000 / max(tps * args.pgbench_seconds, 1)
        agent_tokens = tokens(url, 0, args.agents)
        env = {"CALLHOPPER_DATABASE_URL": url}
        with run_servers(
            [product_command(args.port)], args.port, env, f"open_serve_{args.port}"
        ) as server:
            target = Target(server.base, campaign_id, agent_tokens)
            login_s = asyncio.run(log_in(target, campaign_id, args.agents))
            notes.append(
                f"{name}: {args.agents:,} agents logged in over the API in {login_s:.0f} s"
            )
            warm = asyncio.run(closed_loop(target, agents, 4, 2))  # warm up
            for rate in args.rates:
                rows.append(
                    measured(
                        f"open loop at {rate:g}/s",
                        rate,
                        server,
                        database,
                        open_loop(
                            target, agents, [(rate, args.seconds)], connections=args.connections
                        ),
                    )
                )
            product = measured(
                "product, saturated",
                None,
                server,
                database,
                closed_loop(target, agents, sat, args.saturate_seconds),
            )
            rows.append(product)
            if args.overload:
                high, low = 2 * product.rate, product.rate / 2
                phases = [(high, args.overload_seconds), (low, args.recover_seconds)]
                with CpuWatch(server.pids, database) as cpu:
                    began = time.perf_counter()
                    tally = asyncio.run(
                        open_loop(target, agents, phases, connections=args.connections)
                    )
                rows.append(
                    Row(
                        f"overload {high:.0f}/s for {args.overload_seconds:g} s, then {low:.0f}/s",
                        high,
                        tally,
                        cpu,
                    )
                )
                back = recovery_s(tally, began + args.overload_seconds, args.target_ms)
                tail = began + args.overload_seconds + args.recover_seconds - 10
                last = [took for sent, took in tally.timeline if sent >= tail]
                notes.append(overload_note(name, tally, high, low, back, last, args))
            rss = _rss_mb(server.pids[0])
            notes.append(
                f"{name}: the serve process's resident memory after the runs: {rss:.0f} MB"
            )
        if database:
            half = {**env, "CALLHOPPER_DB_POOL_SIZE": "10"}
            if not args.no_two:
                commands = [shared_port_command(args.port)] * 2
                with run_servers(commands, args.port, half, f"open_two_{args.port}") as server:
                    target = Target(server.base, campaign_id, agent_tokens)
                    warm.done_ok += asyncio.run(closed_loop(target, agents, 4, 2)).done_ok
                    rows.append(
                        measured(
                            "two processes, one port, saturated",
                            None,
                            server,
                            database,
                            closed_loop(target, agents, sat, args.saturate_seconds),
                        )
                    )
        after = check_database(url, campaign_id)
        done_by_http = warm.done_ok + sum(r.tally.done_ok for r in rows if r is not floor)
        unknown = sum(r.tally.done_unknown for r in rows if r is not floor)
        wrapups = after["wrap-ups"] - before["wrap-ups"]
        seen = done_by_http <= wrapups <= done_by_http + unknown
        notes.append(
            f"{name}: database {'reused' if reused else 'built'}; after the run {after}; "
            f"{after['done twice']} records done twice (target 0); {wrapups:,} wrap-ups written "
            f"in this run for {done_by_http:,} Dones answered 204 and {unknown} whose answer the "
            f"client never saw — {'consistent' if seen else 'INCONSISTENT'}"
        )
        if database:
            notes.append(
                f"{name}: pgbench (8 clients, prepared, the same statements in the same three "
                f"transactions) {tps:,.0f} cycles/s, PostgreSQL CPU {per:.2f} ms a cycle; the "
                f"product saturated reaches {product.rate / tps:.1%} of it, the bare floor "
                f"{floor.rate / tps:.1%}"
            )
        notes.insert(0, ratio_note(name, product, floor))
    return [r.cells(name) for r in rows], notes


def overload_note(
    name: str,
    tally: Tally,
    high: float,
    low: float,
    back: float,
    last: list[float],
    args: argparse.Namespace,
) -> str:
    resets = sum(v for k, v in tally.errors.items() if "reset" in k or "connect" in k)
    return (
        f"{name}: overload at {high:.0f}/s (2 x saturated) for {args.overload_seconds:g} s: "
        f"{resets} connections reset or refused (target 0); {len(tally.refused)} requests "
        f"answered 503 with Retry-After, p99 {pct(tally.refused, 0.99):.0f} ms, max "
        f"{pct(tally.refused, 1.0):.0f} ms (target < 1,000 ms); after the drop to {low:.0f}/s "
        f"Get Record's p99 (1-s windows) stayed under {args.target_ms:g} ms from {back:.0f} s "
        f"on (target ≤ 10 s); its p50/p99 over the last 10 s: {pct(last, 0.5):.0f}/"
        f"{pct(last, 0.99):.0f} ms"
    )


def ratio_note(name: str, product: Row, floor: Row) -> str:
    ratio = product.rate / floor.rate if floor.rate else float("nan")
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    return (
        f"{name}: product saturated {product.rate:.1f} cycles/s = **{ratio:.0%} of the bare "
        f"floor** ({floor.rate:.1f}/s) — {verdict} the ≥ 50% target; by CPU per cycle (which "
        f"a loaded machine distorts less) the product's server spends {_per(product):.1f} ms a "
        f"cycle, the floor's {_per(floor):.1f} ms ({_per(floor) / _per(product):.0%})"
    )


def _per(row: Row) -> float:
    """The server's CPU milliseconds per cycle of a run."""
    return row.cpu.server_s * 1000 / max(row.tally.cycles, 1)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dispense_bench --open-loop")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rates", type=float, nargs="*", default=[25, 50, 100])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--saturate-clients", type=int, default=32)
    parser.add_argument("--saturate-seconds", type=float, default=20)
    parser.add_argument("--overload", action="store_true")
    parser.add_argument("--overload-seconds", type=float, default=60)
    parser.add_argument("--recover-seconds", type=float, default=30)
    parser.add_argument("--target-ms", type=float, default=50)
    parser.add_argument("--pgbench-seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8160)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-two", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    raise_open_files(args.connections + 4096)
    scale = f"open_{args.agents}_{args.records}"
    chosen: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = []
    if not args.no_postgres:
        chosen.append(
            (
                "PostgreSQL",
                (lambda: kept_postgres(f"chbench_{scale}")) if args.keep else fresh_postgres,
            )
        )
    if not args.no_sqlite:
        chosen.append(
            ("SQLite", (lambda: kept_sqlite(scale)) if args.keep else lambda: fresh_sqlite("open"))
        )
    load = f"{os.getloadavg()[0]:.1f}"
    rows: list[list[object]] = []
    notes: list[str] = []
    for name, fresh in chosen:
        more_rows, more_notes = run_database(name, fresh, args)
        rows += more_rows
        notes += more_notes
    load_after = f"{os.getloadavg()[0]:.1f}"
    command = "python -m bench.dispense_bench --open-loop " + " ".join(argv)
    body = (
        f"`{command}`\n\n{args.agents:,} agents, {args.records:,} records, one agent-owned "
        f"preview campaign; open loop {args.seconds:g} s per rate; saturation: "
        f"{args.saturate_clients} clients in a closed loop for {args.saturate_seconds:g} s. "
        f"Load average (1 min) {load} before, {load_after} after, on {os.cpu_count()} CPUs.\n\n"
        + table(HEADERS, rows)
        + "\n\n"
        + "\n".join(f"* {n}" for n in notes)
    )
    print(body)
    if not args.no_record:
        append_results("dispense_bench --open-loop", body)


if __name__ == "__main__":
    main(sys.argv[1:])
