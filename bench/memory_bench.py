"""Memory of one `callhopper serve` process with a floor logged in and agents on WebSocket.

    python -m bench.memory_bench [--agents 10000] [--records 100000] [--sockets 1000]
                                 [--cycles 2000] [--port 8162]
                                 [--no-postgres] [--no-sqlite] [--no-record]

One agent-owned preview campaign of ``--records`` records owned by ``--agents`` agents.
The resident memory of the server process (``VmRSS`` of ``/proc/<pid>/status``, and its
peak ``VmHWM``) is read: once it answers; after every agent has logged in to the campaign
over the API; after ``--sockets`` agents have opened the agent WebSocket (each answered its
``hello`` and a ping); after ``--cycles`` Get Record → Call → Done cycles by those agents
with their sockets open; and once more 10 s later. The bare interpreter with the app
imported (``python -c 'import callhopper.api.app'``) is measured beside it as the floor.

Target (issue 23): under 500 MB with 10,000 agents logged in and 1,000 WebSockets open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import append_results, chosen_databases, raise_open_files, table
from bench.open_loop import Target, closed_loop, product_command, run_servers

TARGET_MB = 500


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def bare_interpreter_mb() -> float:
    """Resident memory of a Python process that has imported the app (and nothing else)."""
    code = (
        "import callhopper.api.app, callhopper.cli\n"
        "for line in open('/proc/self/status'):\n"
        "    if line.startswith('VmRSS:'): print(int(line.split()[1]) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


async def open_sockets(base: str, tokens: list[str]) -> list[ClientConnection]:
    """One agent WebSocket per token, each past its hello and a ping (50 opening at once)."""
    gate = asyncio.Semaphore(50)
    ws_base = base.replace("http://", "ws://") + "/api/v1/agent/ws?token="

    async def one(token: str) -> ClientConnection:
        async with gate:
            ws = await connect(ws_base + token, open_timeout=300, ping_interval=None)
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send("ping")
            while json.loads(await ws.recv())["type"] != "pong":
                pass
            return ws

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def drain(sockets: list[ClientConnection], seconds: float) -> int:
    """Read what the server sends the sockets for ``seconds`` (events of their cycles)."""
    received = 0

    async def one(ws: ClientConnection) -> None:
        nonlocal received
        stop = time.perf_counter() + seconds
        while (left := stop - time.perf_counter()) > 0:
            try:
                await asyncio.wait_for(ws.recv(), timeout=left)
                received += 1
            except TimeoutError:
                return

    await asyncio.gather(*(one(ws) for ws in sockets))
    return received


def run(url: str, name: str, args: argparse.Namespace) -> list[list[Any]]:
    from bench.dispense_bench import setup, tokens
    from bench.open_bench import log_in

    print(f"{name}: setting up {args.agents:,} agents, {args.records:,} records …", flush=True)
    campaign_id, _ = setup(url, args.agents, args.records)
    agent_tokens = tokens(url, 0, args.agents)
    rows: list[list[Any]] = []
    env = {"CALLHOPPER_DATABASE_URL": url}
    with run_servers([product_command(args.port)], args.port, env, "memory_serve") as server:
        pid = server.pids[0]
        target = Target(server.base, campaign_id, agent_tokens)

        def note(step: str, detail: str = "") -> None:
            rss, peak = memory_mb(pid)
            rows.append([name, step, f"{rss:.0f}", f"{peak:.0f}", detail])
            print(f"  {step}: {rss:.0f} MB (peak {peak:.0f})", flush=True)

        note("started, idle")
        login_s = asyncio.run(log_in(target, campaign_id, args.agents))
        note(f"{args.agents:,} agents logged in", f"in {login_s:.0f} s")

        async def with_sockets() -> None:
            began = time.perf_counter()
            sockets = await open_sockets(server.base, agent_tokens[: args.sockets])
            note(f"+ {len(sockets):,} WebSockets open", f"in {time.perf_counter() - began:.0f} s")
            clients = min(32, args.sockets)
            drained = asyncio.create_task(drain(sockets, 3600))
            tally = await closed_loop(
                target, list(range(args.sockets)), clients, 3600, cycles=args.cycles
            )
            note(
                f"+ {tally.cycles:,} cycles by agents with a socket open",
                f"{tally.cycles / tally.seconds:.0f}/s, errors {dict(tally.errors) or 0}",
            )
            await asyncio.sleep(10)
            note("10 s later, sockets still open")
            drained.cancel()
            for ws in sockets:
                await ws.close()

        asyncio.run(with_sockets())
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sockets", type=int, default=1_000)
    parser.add_argument("--cycles", type=int, default=2_000)
    parser.add_argument("--port", type=int, default=8162)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    raise_open_files(4 * args.sockets + 4096)
    load = f"{os.getloadavg()[0]:.1f}"
    floor_mb = bare_interpreter_mb()
    rows: list[list[Any]] = []
    for name, fresh in chosen_databases(args, "memory"):
        with fresh() as url:
            rows += run(url, name, args)
    worst = max(float(r[2]) for r in rows)
    body = (
        f"`python -m bench.memory_bench {' '.join(argv)}`\n\n"
        f"One `callhopper serve` process; resident memory from `/proc/<pid>/status` (load "
        f"average {load} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs). "
        f"Floor: a bare interpreter that imported the app, {floor_mb:.0f} MB.\n\n"
        + table(["database", "after", "RSS MB", "peak MB", "note"], rows)
        + f"\n\n* highest RSS {worst:.0f} MB — "
        + ("meets" if worst < TARGET_MB else "MISSES")
        + f" the target (< {TARGET_MB} MB with {args.agents:,} agents logged in and "
        f"{args.sockets:,} WebSockets open)"
    )
    print(body)
    if not args.no_record:
        append_results("memory_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
