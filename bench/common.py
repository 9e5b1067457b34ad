"""Helpers shared by the benchmarks: fresh databases, timing, memory, the results file."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).parent
DATA_DIR = BENCH_DIR / "data"
RESULTS = BENCH_DIR / "RESULTS.md"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> str:
    return os.environ.get("CALLHOPPER_BENCH_POSTGRES_URL", DEFAULT_PG_URL)


def require_postgres_connections(needed: int) -> None:
    """Stop with the fix when the server admits fewer connections than a benchmark opens."""
    engine = create_engine(pg_admin_url())
    with engine.connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
    engine.dispose()
    if limit < needed:
        raise SystemExit(
            f"PostgreSQL admits {limit} connections; this benchmark needs about {needed}. "
            f"Raise the limit and restart PostgreSQL, e.g.\n"
            f"  psql -h 127.0.0.1 -U postgres -c 'ALTER SYSTEM SET max_connections = {needed}'\n"
            f"  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart"
        )


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new empty PostgreSQL database, dropped afterwards; yields its URL."""
    admin = pg_admin_url()
    name = f"chbench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def fresh_sqlite(tag: str) -> Iterator[str]:
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"{tag}_{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def chosen_databases(
    args: Any, tag: str
) -> list[tuple[str, Callable[[], AbstractContextManager[str]]]]:
    """The fresh databases a run asks for (``--no-postgres``, ``--no-sqlite``), by name."""
    chosen: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = []
    if not args.no_postgres:
        chosen.append(("PostgreSQL", fresh_postgres))
    if not args.no_sqlite:
        chosen.append(("SQLite", lambda: fresh_sqlite(tag)))
    return chosen


def raise_open_files(wanted: int) -> None:
    """Raise this process's open-file limit towards ``wanted`` (up to the hard limit): the
    servers it starts inherit it, and each agent's connection is a file on both sides."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, wanted)), hard))


def _tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (Linux /proc)."""
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def run_measured(args: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``python -m …`` in a child process; time it and sample its tree's peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=BENCH_DIR.parent,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{output}")
    return Run(seconds, peak / 1024, output)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join(lines)


def append_results(title: str, body: str) -> None:
    """Append one run's section to bench/RESULTS.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by `python -m bench.<name>`; newest last. Speeds "
            "are compared with a baseline measured in the same run, because the machines are "
            "shared and noisy.\n"
        )
    with RESULTS.open("a") as results:
        results.write(f"\n## {title} — {stamp}\n\n_{machine}_\n\n{body}\n")


@contextmanager
def serve(url: str, log_name: str) -> Iterator[str]:
    """One `callhopper serve` process on a free port, its output in ``bench/data/<log_name>``;
    yields its base URL once it answers, and stops it afterwards."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    DATA_DIR.mkdir(exist_ok=True)
    with (DATA_DIR / log_name).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "callhopper.cli", "serve", "--port", str(port)],
            env={**os.environ, "CALLHOPPER_DATABASE_URL": url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=60)
