"""CPU and statements of one Get Record → Call → Done cycle, this tree against a baseline.

    python -m bench.cycle_bench [--baseline /path/to/other/checkout] [--agents 200]
                                [--records 20000] [--cycles 1500] [--rounds 3]
                                [--no-postgres] [--no-sqlite] [--no-record]

One agent-owned preview campaign (the set-up of ``bench.dispense_bench``). A child process
per (tree, database, round) builds a fresh database, then runs ``--cycles`` cycles over
HTTP in-process (Starlette's ``TestClient``: client and server share the process, one
request at a time, agents in turn) and reports:

* **CPU ms per cycle**: the process's CPU time (``time.process_time``) over the cycles;
* **client ms per cycle**: the CPU of three ``GET /healthz`` round trips (answered on the
  event loop, no database), i.e. what the test client and the server stack cost a
  request before any of the cycle's work; **server ms** is the difference;
* **statements per cycle** the engine sent (``before_cursor_execute``; SQLite's
  ``BEGIN``s included).

``--baseline`` is a checkout of the code to compare with (its ``src`` is put first on the
child's path; this tree's ``bench`` package is used by both). Rounds alternate between the
trees, so that a change of the machine's load during the run weighs on both alike; the
median of the rounds is reported, with the ratio to the baseline.

``--serve`` measures a real server instead: each round starts ``callhopper serve`` (the
tree's code) on a fresh database and drives ``--clients`` clients in a closed loop over
HTTP (the client of ``dispense_bench --open-loop``); **server ms per cycle** is then the
``serve`` process's own CPU time (``/proc``) over the cycles, every thread and background
loop included, and no statements are counted. ``--py-spy DIR`` also records that process
with py-spy (collapsed stacks, one file per tree and database) for the profile.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import append_results, chosen_databases, table

ROOT = Path(__file__).resolve().parent.parent


def child(url: str, agents: int, records: int, cycles: int) -> dict[str, float]:
    """One measurement in this process (its ``callhopper`` is whichever is first on the
    path)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from bench.dispense_bench import setup, tokens
    from callhopper.api.app import create_app
    from callhopper.settings import Settings
    from callhopper.store.db import Database

    campaign_id, _ = setup(url, agents, records)
    secrets_ = tokens(url, 0, agents)
    db = Database(url)
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    app = create_app(Settings(database_url=url), db)
    base = f"/api/v1/agent/campaigns/{campaign_id}"
    with TestClient(app) as client:
        headers = [{"Authorization": f"Bearer {s}"} for s in secrets_]

        def cycle(n: int) -> None:
            who = headers[n % agents]
            got = client.post(f"{base}/get-record", headers=who)
            assert got.status_code == 200, got.text
            record_id = got.json()["delivery"]["record_id"]
            called = client.post(f"{base}/records/{record_id}/call", json={}, headers=who)
            assert called.status_code == 200, called.text
            finished = client.post(
                f"{base}/records/{record_id}/done", json={"code": "no_answer"}, headers=who
            )
            assert finished.status_code == 204, finished.text

        for n in range(min(cycles, 2 * agents)):  # every agent logged in, statements warm
            cycle(n)
        statements = 0
        began = time.perf_counter()
        started = time.process_time()
        for n in range(cycles):
            cycle(n)
        cpu = time.process_time() - started
        sent = statements
        started = time.process_time()
        for _ in range(3 * cycles):
            assert client.get("/healthz").status_code == 200
        client_cpu = time.process_time() - started
    db.dispose()
    return {
        "cpu_ms": 1000 * cpu / cycles,
        "client_ms": 1000 * client_cpu / cycles,
        "statements": sent / cycles,
        "cycles_per_s": cycles / (time.perf_counter() - began),
    }


def child_setup(url: str, agents: int, records: int) -> dict[str, object]:
    """The database of a ``--serve`` round, built by the tree's own code."""
    from bench.dispense_bench import setup, tokens

    campaign_id, _ = setup(url, agents, records)
    return {"campaign_id": campaign_id, "tokens": tokens(url, 0, agents)}


def measure_served(
    tree: Path,
    url: str,
    agents: int,
    records: int,
    cycles: int,
    clients: int,
    spy: Path | None,
    idle_s: float,
) -> dict[str, float]:
    """One ``--serve`` round: warm every agent up, then ``cycles`` cycles by ``clients``
    clients; the server's CPU per cycle, then per second while idle for ``idle_s``."""
    import asyncio
    import socket

    from bench.open_loop import Target, closed_loop, cpu_s, run_servers

    made = _run_child(tree, "--setup", [url, agents, records])
    env = {
        "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(ROOT)]),
        "CALLHOPPER_DATABASE_URL": url,
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "callhopper.cli", "serve", "--port", str(port)]
    with run_servers([command], port, env, "cycle_serve") as server:
        target = Target(server.base, int(made["campaign_id"]), list(made["tokens"]))
        everyone = list(range(agents))
        asyncio.run(closed_loop(target, everyone, clients, 3600, cycles=min(cycles, agents)))
        recorder = None
        if spy is not None:
            recorder = subprocess.Popen(
                [_py_spy(), "record", "--gil", "--threads", "--format", "raw",
                 "--rate", "100", "--pid", str(server.pids[0]), "--output", str(spy)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
        before = cpu_s(server.pids)
        tally = asyncio.run(closed_loop(target, everyone, clients, 3600, cycles=cycles))
        cpu = cpu_s(server.pids) - before
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=60)
        time.sleep(2.0)  # requests in flight end, leases settle
        before = cpu_s(server.pids)
        time.sleep(idle_s)
        idle = cpu_s(server.pids) - before
    return {
        "cpu_ms": 1000 * cpu / tally.cycles,
        "client_ms": 0.0,
        "statements": float("nan"),
        "cycles_per_s": tally.cycles / tally.seconds,
        "idle_ms_per_s": 1000 * idle / idle_s,
    }


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else "py-spy"


def _run_child(tree: Path, flag: str, spec: object) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-m", "bench.cycle_bench", flag, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{flag} on {tree}: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(tree: Path, url: str, agents: int, records: int, cycles: int) -> dict[str, float]:
    return _run_child(tree, "--child", [url, agents, records, cycles])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help="measure a real serve process")
    parser.add_argument("--clients", type=int, default=8, help="with --serve")
    parser.add_argument("--py-spy", type=Path, help="with --serve: py-spy profiles here")
    parser.add_argument("--idle-s", type=float, default=20.0, help="with --serve")
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"))
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        url, agents, records, cycles = json.loads(args.child)
        print(json.dumps(child(url, agents, records, cycles)))
        return
    if args.setup:
        print(json.dumps(child_setup(*json.loads(args.setup))))
        return
    load_before = os.getloadavg()[0]
    trees = {"baseline": args.baseline.resolve(), "this tree": ROOT}
    rows = []
    for kind, fresh in chosen_databases(args, "cycle"):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                with fresh() as url:
                    if args.serve:
                        spy = None
                        if args.py_spy is not None:
                            args.py_spy.mkdir(parents=True, exist_ok=True)
                            tag = name.replace(" ", "_")
                            spy = args.py_spy / f"{kind.lower()}_{tag}_{len(runs[name])}.txt"
                        got = measure_served(
                            tree,
                            url,
                            args.agents,
                            args.records,
                            args.cycles,
                            args.clients,
                            spy,
                            args.idle_s,
                        )
                    else:
                        got = measure(tree, url, args.agents, args.records, args.cycles)
                    runs[name].append(got)
        medians = {
            name: {
                key: statistics.median(r[key] for r in results)
                for key in ("cpu_ms", "client_ms", "statements", "cycles_per_s", "idle_ms_per_s")
                if all(key in r for r in results)
            }
            for name, results in runs.items()
        }
        base_server = medians["baseline"]["cpu_ms"] - medians["baseline"]["client_ms"]
        for name, m in medians.items():
            server = m["cpu_ms"] - m["client_ms"]
            rows.append(
                [
                    kind,
                    name,
                    "-" if args.serve else f"{m['statements']:.1f}",
                    f"{m['cpu_ms']:.2f}",
                    "-" if args.serve else f"{m['client_ms']:.2f}",
                    f"{server:.2f}",
                    f"{server / base_server:.2f}",
                    " / ".join(f"{r['cpu_ms']:.2f}" for r in runs[name]),
                    f"{m['cycles_per_s']:.1f}",
                    f"{m['idle_ms_per_s']:.1f}" if args.serve else "-",
                ]
            )
    load_after = os.getloadavg()[0]
    body = table(
        [
            "database",
            "code",
            "statements / cycle",
            "CPU ms / cycle",
            "client ms / cycle",
            "server ms / cycle",
            "server ÷ baseline",
            "CPU ms per round",
            "cycles / s",
            "idle CPU ms / s",
        ],
        rows,
    )
    how = (
        f"`callhopper serve`, {args.clients} clients in a closed loop over HTTP; CPU is the "
        "server process's own (every thread and background loop), and idle CPU is its CPU "
        f"per second over {args.idle_s:g} s without requests after the cycles; "
        if args.serve
        else "in-process `TestClient`; "
    )
    note = how + (
        f"{args.agents} agents, {args.records:,} records, {args.cycles} cycles per round, "
        f"{args.rounds} rounds (medians); baseline `{trees['baseline']}`; load average "
        f"{load_before:.1f} → {load_after:.1f}."
    )
    print(body)
    print(note)
    if not args.no_record:
        command = "python -m bench cycle " + " ".join(argv)
        append_results(
            "CPU and statements per Get Record → Call → Done cycle",
            f"`{command.strip()}`\n\n{note}\n\n{body}",
        )


if __name__ == "__main__":
    main(sys.argv[1:])
