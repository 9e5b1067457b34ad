"""The open-loop client of ``dispense_bench --open-loop``: agents who arrive on a Poisson
schedule, think between cycles, and never wait for each other.

Each agent's next Get Record is due an exponential think time (mean ``agents ÷ rate``)
after its last cycle ended, so the cycles of many agents start as a Poisson process of the
given total rate. Every agent is its own asyncio task on one shared aiohttp session with a
large connection pool: a slow answer to one agent delays no other agent's request. The
client measures how late it sends each Get Record behind its schedule (its **lag**), so that
a client starved of CPU is never mistaken for a slow server.

Also here: the closed loop that saturates a server, the servers' CPU from ``/proc``, and
the servers themselves (the product, the bare floor, two processes behind one port).
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.common import DATA_DIR, pg_admin_url

STEPS = ("get_record", "call", "done")
TICK = os.sysconf("SC_CLK_TCK")


# --- what a server is asked ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A server and how to ask it for each step: the product's API (``tokens``: one per
    agent) or the bare floor's routes (``tokens`` empty)."""

    base: str
    campaign_id: int
    tokens: Sequence[str] = ()

    def request(self, step: str, agent: int, record: int | None) -> tuple[str, dict[str, Any]]:
        if not self.tokens:
            path = step.replace("_", "-") + f"/{agent + 1}" + (f"/{record}" if record else "")
            return f"{self.base}/{path}", {}
        api = f"{self.base}/api/v1/agent/campaigns/{self.campaign_id}"
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
        if step == "get_record":
            return f"{api}/get-record", {"headers": headers}
        body = {"json": {"code": "sale"}} if step == "done" else {}
        return f"{api}/records/{record}/{step}", {"headers": headers, **body}

    def record_of(self, answer: Any) -> int | None:
        if not self.tokens:
            return answer["record_id"]  # type: ignore[no-any-return]
        delivery = answer["delivery"]
        return None if delivery is None else int(delivery["record_id"])


# --- what a run measures -----------------------------------------------------------------------


@dataclass
class Tally:
    """One run: latencies by step (seconds), refusals, errors, the client's lag."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    #: (when sent, seconds) of each Get Record answered 200, to follow p99 over time.
    timeline: list[tuple[float, float]] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)  # 503 with Retry-After: latency
    errors: Counter[str] = field(default_factory=Counter)
    lag: list[float] = field(default_factory=list)
    cycles: int = 0
    empty: int = 0  # Get Record answered with no record
    #: Successful Dones, and Dones whose outcome the client could not see.
    done_ok: int = 0
    done_unknown: int = 0
    began: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.ended - self.began, 1e-9)


class Refused(Exception):
    """A 503 with Retry-After."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


async def _send(
    http: aiohttp.ClientSession,
    target: Target,
    step: str,
    agent: int,
    record: int | None,
    tally: Tally,
) -> Any:
    """One request, sent again after ``Retry-After`` while it is refused; its answer's JSON
    (None for 204). Raises on any other failure, after counting it."""
    url, kwargs = target.request(step, agent, record)
    while True:
        began = time.perf_counter()
        try:
            async with http.post(url, **kwargs) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                body = await response.read()
        except Exception as exc:
            tally.errors[_kind(exc)] += 1
            raise
        took = time.perf_counter() - began
        if status == 503 and retry_after is not None:
            tally.refused.append(took)
            await asyncio.sleep(float(retry_after))
            continue
        if status >= 500:
            tally.errors[f"{status}"] += 1
            raise RuntimeError(status)
        if status >= 400:
            tally.errors[f"{status} {body[:60]!r}"] += 1
            raise RuntimeError(status)
        tally.latency[step].append(took)
        if step == "get_record":
            tally.timeline.append((began, took))
        return None if status == 204 else _json(body)


def _json(body: bytes) -> Any:
    import json

    return json.loads(body)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "reset (disconnected)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect refused"
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno == errno.ECONNRESET:
        return "reset (ECONNRESET)"
    return type(exc).__name__


async def cycle(http: aiohttp.ClientSession, target: Target, agent: int, tally: Tally) -> None:
    """Get Record → Call → Done for one agent; a failure ends the cycle (counted)."""
    try:
        answer = await _send(http, target, "get_record", agent, None, tally)
        record = target.record_of(answer)
        if record is None:
            tally.empty += 1
            return
        await _send(http, target, "call", agent, record, tally)
    except Exception:
        return
    try:
        await _send(http, target, "done", agent, record, tally)
    except Exception:
        tally.done_unknown += 1
        return
    tally.done_ok += 1
    tally.cycles += 1


def session(connections: int, timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)
    )


async def open_loop(
    target: Target,
    agents: Sequence[int],
    phases: Sequence[tuple[float, float]],
    *,
    connections: int = 2000,
    timeout_s: float = 30.0,
    seed: int = 1,
) -> Tally:
    """Agents cycling on a Poisson schedule: ``phases`` is (total rate per second, seconds),
    one after the other (the rate changes for every agent at a phase's start). Cycles due
    after the last phase are not started; those started are waited for."""
    tally = Tally()
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    start = loop.time()
    bounds: list[tuple[float, float]] = []  # (phase end, mean think time)
    at = start
    for rate, seconds in phases:
        at += seconds
        bounds.append((at, len(agents) / rate))
    end = at

    def think(now: float) -> float:
        """The next due time from ``now``, drawn at the rate of the phase of ``now``; a draw
        that crosses into the next phase is drawn again from its start (memoryless)."""
        for phase_end, mean in bounds:
            if now < phase_end:
                due = now + rng.expovariate(1 / mean)
                if due < phase_end:
                    return due
                now = phase_end
        return end

    async with session(connections, timeout_s) as http:

        async def agent(n: int) -> None:
            due = think(start)
            while due < end:
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tally.lag.append(max(0.0, loop.time() - due))
                await cycle(http, target, n, tally)
                due = think(max(loop.time(), due))

        tally.began = time.perf_counter()
        await asyncio.gather(*(agent(n) for n in agents))
        tally.ended = time.perf_counter()
    return tally


async def closed_loop(
    target: Target,
    agents: Sequence[int],
    clients: int,
    seconds: float,
    *,
    cycles: int | None = None,
    timeout_s: float = 60.0,
) -> Tally:
    """``clients`` clients cycling as fast as the server answers (each through its own
    share of ``agents`` in turn) for ``seconds`` or until ``cycles`` are done: the
    server's saturated throughput."""
    tally = Tally()
    async with session(clients, timeout_s) as http:
        stop = time.perf_counter() + seconds
        enough = cycles if cycles is not None else float("inf")

        async def client(mine: Sequence[int]) -> None:
            turn = 0
            while time.perf_counter() < stop and mine and tally.cycles < enough:
                await cycle(http, target, mine[turn % len(mine)], tally)
                turn += 1

        tally.began = time.perf_counter()
        await asyncio.gather(*(client(agents[i::clients]) for i in range(clients)))
        tally.ended = time.perf_counter()
    return tally


def pct(values: Sequence[float], q: float) -> float:
    """A percentile in milliseconds (nan if none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def recovery_s(tally: Tally, since: float, target_ms: float, window_s: float = 1.0) -> float:
    """Seconds from ``since`` (perf_counter) to the first window after which every window's
    Get Record p99 stays under ``target_ms`` (inf if it never does)."""
    windows: dict[int, list[float]] = {}
    for sent, took in tally.timeline:
        if sent >= since:
            windows.setdefault(int((sent - since) / window_s), []).append(took)
    if not windows:
        return float("inf")
    last = max(windows)
    for first in range(last + 1):
        if all(
            pct(windows.get(w, []), 0.99) < target_ms
            for w in range(first, last + 1)
            if w in windows
        ):
            return first * window_s
    return float("inf")


# --- CPU from /proc ----------------------------------------------------------------------------


def cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def pg_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to ``database`` now (same machine)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_admin_url())
    with engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
            {"d": database},
        ).scalars()
        found = list(pids)
    engine.dispose()
    return found


@dataclass
class CpuWatch:
    """CPU seconds spent by the servers, PostgreSQL's backends and this client over a span."""

    servers: Sequence[int]
    database: str | None  # PostgreSQL database name, None on SQLite
    server_s: float = 0.0
    pg_s: float = 0.0
    client_s: float = 0.0

    def __enter__(self) -> CpuWatch:
        self._backends = pg_backends(self.database) if self.database else []
        self._marks = (cpu_s(self.servers), cpu_s(self._backends), own_cpu_s())
        return self

    def __exit__(self, *exc: object) -> None:
        # Backends that connected meanwhile count from zero (their whole life is in the span).
        backends = pg_backends(self.database) if self.database else []
        new = [b for b in backends if b not in self._backends]
        self.server_s = cpu_s(self.servers) - self._marks[0]
        self.pg_s = cpu_s(self._backends) - self._marks[1] + cpu_s(new)
        self.client_s = own_cpu_s() - self._marks[2]


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    base: str
    pids: list[int]


def _wait_up(base: str, processes: Sequence[subprocess.Popen[bytes]]) -> None:
    import httpx

    for _ in range(1200):
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}; see bench/data/*.log")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} never answered /healthz")


@contextmanager
def run_servers(
    commands: Sequence[list[str]], port: int, env: dict[str, str], log: str
) -> Iterator[Server]:
    """Start processes that serve on ``port`` (one, or several sharing it), wait until it
    answers, and stop them afterwards (SIGTERM, then SIGKILL)."""
    DATA_DIR.mkdir(exist_ok=True)
    processes = []
    try:
        for n, command in enumerate(commands):
            out = (DATA_DIR / f"{log}_{n}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
                )
            )
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, processes)
        yield Server(base, [p.pid for p in processes])
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def product_command(port: int) -> list[str]:
    return [sys.executable, "-m", "callhopper.cli", "serve", "--port", str(port)]


def shared_port_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.shared_port", "--port", str(port)]


def floor_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bench.floor_app:app",
        "--port", str(port), "--log-level", "info",
        "--no-access-log",  # as `serve` runs it (CALLHOPPER_ACCESS_LOG off)
    ]  # fmt: skip
