"""Two ``callhopper dialer`` processes on one PostgreSQL database: exactly one paces the
campaign; when it is killed, the other takes the campaign over within seconds, and no record
is dialled twice at once (the dead process's calls keep their records claimed)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select

from callhopper.clock import SystemClock
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.campaigns import Channel, DialingMode
from callhopper.simulation.floor import create_floor
from callhopper.store.db import Database
from callhopper.store.models import Call, WorkerLease
from callhopper.store.uow import SqlUnitOfWork
from tests.conftest import T0

LEASE_S = 3.0
#: Nothing waits this long when the code is right.
WAIT_S = 60.0


def start_dialer(db_url: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CALLHOPPER_DATABASE_URL": db_url,
        "CALLHOPPER_DIALER_LEASE_S": str(LEASE_S),
        # Nobody answers: the agents stay free, and the engine keeps dialling.
        "CALLHOPPER_SIMULATOR_PERSON_SHARE": "0",
        "CALLHOPPER_SIMULATOR_SPEED": "5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "callhopper.cli", "dialer"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_for(predicate: object, what: str) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_another_dialer_takes_over_a_killed_ones_campaign(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several processes on one database: PostgreSQL")
    uow = SqlUnitOfWork(db)
    floor = create_floor(uow, T0, agents=3, records=400, mode=DialingMode.PREDICTIVE, seed=5)
    dispenser = Dispenser(uow, SystemClock())
    for actor in floor.agents.values():
        dispenser.login(actor, floor.campaign_id)
        dispenser.set_channel(actor, Channel.VOICE, True)
        dispenser.get_record(actor, floor.campaign_id)
    lease_name = f"dialer:campaign:{floor.campaign_id}"

    def holder() -> str | None:
        with db.read() as session:
            return session.scalar(select(WorkerLease.holder).where(WorkerLease.name == lease_name))

    def calls_by(engine: str) -> int:
        with db.read() as session:
            return len(session.scalars(select(Call.id).where(Call.engine == engine)).all())

    logs = [(tmp_path / f"dialer{n}.log").open("wb") for n in (1, 2)]
    processes = [start_dialer(db_url, log) for log in logs]
    try:
        first = str(wait_for(holder, "a dialer to take the campaign"))
        by_pid = {p.pid: p for p in processes}
        pacing = by_pid[int(first.split(":")[1])]
        other = next(p for p in processes if p is not pacing)
        wait_for(lambda: calls_by(first) >= 6, "the first dialer's calls")
        pacing.send_signal(signal.SIGKILL)
        pacing.wait()
        killed_at = time.monotonic()
        second = str(wait_for(lambda: (h := holder()) != first and h, "the takeover"))
        assert int(second.split(":")[1]) == other.pid
        assert time.monotonic() - killed_at < 4 * LEASE_S + 5
        wait_for(lambda: calls_by(second) >= 6, "the second dialer's calls")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        for log in logs:
            log.close()
    with db.read() as session:
        calls = session.scalars(select(Call).order_by(Call.placed_at)).all()
    by_record: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        by_record[call.record_id].append(call)
    for record_id, record_calls in by_record.items():
        for before, after in itertools.pairwise(record_calls):
            # A call of the record starts only once the one before has ended.
            assert before.ended_at is not None, (record_id, before.id, after.id)
            assert after.placed_at >= before.ended_at, record_id
    # The killed process's calls in flight kept their records: none was dialled again.
    stale = [c for c in calls if c.engine == first and c.result is None]
    assert stale, "the killed dialer had calls in flight"
    assert all(len(by_record[c.record_id]) == 1 for c in stale)
