"""Crash safety and several processes, with real ``callhopper serve`` processes.

Agents work a preview campaign (Get Record → Call → Done) and a push preview campaign
(pushes over the WebSocket, Accept → Call → Done) while the server is killed with SIGKILL at
seeded random moments and restarted on the same database; one preview and one push agent
never come back after the first kill. Then nothing may be lost, nothing handled twice,
every lease held at a kill must have come back by its rule (its agent got it again; a
deserter's lapsed), and the audit log must match the records. The second test runs two
processes on one PostgreSQL database, agents split across them, in preview, push preview and
hopper campaigns, and counts double deliveries and lost events. The floor and its checks
are :mod:`bench.crash_floor` and :mod:`bench.crash_checks`, which ``python -m bench crash``
runs at scale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.crash_checks import check
from bench.crash_floor import HOPPER, PREVIEW, PUSH, Floor, Plan, run, set_up
from tests.e2e.server import LiveServer

pytestmark = pytest.mark.timeout(240)


@contextmanager
def servers(db_url: str, logs: Path, count: int, **env: str) -> Iterator[list[LiveServer]]:
    """``count`` servers on one database, their logs ``<logs>_<n>.log``."""
    live = [
        LiveServer(database_url=db_url, log_path=Path(f"{logs}_{i}.log"), extra_env=dict(env))
        for i in range(count)
    ]
    try:
        for server in live:
            server.start()
        yield live
    finally:
        for server in live:
            server.stop()


def work(floor: Floor) -> None:
    set_up(floor)
    asyncio.run(run(floor))


def test_sigkill_loses_nothing_and_hands_nothing_out_twice(db_url: str, tmp_path: Path) -> None:
    plan = Plan(
        agents={PREVIEW: 5, PUSH: 4},
        records={PREVIEW: 60, PUSH: 40},
        kills=1,
        think_s=0.15,
        seed=19,
        deadline_s=100,
    )
    with servers(db_url, tmp_path / "server", 1) as live:
        floor = Floor(plan, db_url, live)
        work(floor)
    found = check(floor)
    assert not floor.timed_out, found.summary()
    assert len(floor.kills) == plan.kills, "the floor finished before its kills"
    assert found.records == sum(plan.records.values())
    assert found.clean, found.summary()
    # Both rules were exercised: the deserters' leases lapsed, the others' came back.
    assert found.held_at_kills == found.resumed + found.lapsed
    assert found.resumed and found.lapsed, (found.resumed, found.lapsed)


def test_two_processes_on_one_postgresql(db_url: str, tmp_path: Path) -> None:
    """Process 0 runs no background jobs: every push, and every hopper load, is made by
    process 1, and the agents whose channel is on process 0 get them there."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a database only on PostgreSQL")
    plan = Plan(
        agents={PREVIEW: 4, PUSH: 4, HOPPER: 4},
        records={PREVIEW: 40, PUSH: 40, HOPPER: 40},
        servers=2,
        kills=0,
        think_s=0.05,
        seed=20,
        deadline_s=90,
    )
    with (
        servers(db_url, tmp_path / "a", 1, CALLHOPPER_RUN_WORKERS="false") as a,
        servers(db_url, tmp_path / "b", 1) as b,
    ):
        floor = Floor(plan, db_url, [*a, *b])
        work(floor)
    found = check(floor)
    assert not floor.timed_out, found.summary()
    assert found.records == sum(plan.records.values())
    assert found.clean, found.summary()
    on_a = [x for x in floor.agents if x.kind == PUSH and x.server == 0]
    assert on_a and all(x.done for x in on_a), "agents on process 0 worked pushes of process 1"
