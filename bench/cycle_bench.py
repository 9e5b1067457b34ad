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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
    }


def measure(
    tree: Path, kind: str, url: str, agents: int, records: int, cycles: int
) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(ROOT)])
    spec = json.dumps([url, agents, records, cycles])
    done = subprocess.run(
        [sys.executable, "-m", "bench.cycle_bench", "--child", spec],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} on {tree}: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
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
    load_before = os.getloadavg()[0]
    trees = {"baseline": args.baseline.resolve(), "this tree": ROOT}
    rows = []
    for kind, fresh in chosen_databases(args, "cycle"):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                with fresh() as url:
                    runs[name].append(
                        measure(tree, kind, url, args.agents, args.records, args.cycles)
                    )
        medians = {
            name: {
                key: statistics.median(r[key] for r in results)
                for key in ("cpu_ms", "client_ms", "statements")
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
                    f"{m['statements']:.1f}",
                    f"{m['cpu_ms']:.2f}",
                    f"{m['client_ms']:.2f}",
                    f"{server:.2f}",
                    f"{server / base_server:.2f}",
                    " / ".join(f"{r['cpu_ms']:.2f}" for r in runs[name]),
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
        ],
        rows,
    )
    note = (
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
