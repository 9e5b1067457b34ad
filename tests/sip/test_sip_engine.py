"""The real dialing engine over the SIP adapter, as ``callhopper dialer`` builds it with
``CALLHOPPER_TELEPHONY=sip``, SIPp playing the carrier's trunk, in a loopback-only network
namespace, on SQLite and PostgreSQL: the pre-dial rules hold before any INVITE leaves, and a
SIP worker killed mid-call costs its call only."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from callhopper.clock import FrozenClock
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.core.dnc import DncService
from callhopper.dialer_job import DialerJob
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import Channel, DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.settings import Settings
from callhopper.simulation.floor import Floor, create_floor, floor_rows
from callhopper.store.db import Database
from callhopper.store.models import Call, CampaignRecord
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.sip.adapter import WORKER_LOST, SipTelephony
from tests.conftest import T0
from tests.sip.harness import NetNamespace, Sipp

pytestmark = pytest.mark.slow

#: T0 is 10:00 in New York and 9:00 in Chicago: the window is open for the first only.
WINDOW = CallingWindow(start="10:00", end="11:00")
SEED = 24
#: The floor's contacts: New York, Chicago (outside the window), New York (on a DNC list).
ALLOWED, OUTSIDE, ON_DNC = (row["phone"] for row in floor_rows(3, SEED, zones=2))
#: Longer than a progressive campaign's idle pacing interval (5 s): the engine has had
#: another look at the floor since the last thing that happened.
SETTLE_S = 6.0


def make_floor(db: Database) -> Floor:
    """One agent, the three contacts, a progressive campaign with a DNC list."""
    uow = SqlUnitOfWork(db)
    floor = create_floor(
        uow, T0, agents=1, records=3, mode=DialingMode.PROGRESSIVE, seed=SEED, zones=2,
        window=WINDOW,
    )  # fmt: skip
    dnc = DncService(uow, FrozenClock(T0), default_region="US", import_batch_rows=100)
    dnc_list = dnc.create_list(SYSTEM, name="Do not call").list
    dnc.add_numbers(SYSTEM, dnc_list.id, [ON_DNC])
    dnc.attach_list(SYSTEM, floor.campaign_id, dnc_list.id)
    return floor


@dataclass
class World:
    """A namespace with the floor in the database, and the settings to dial it."""

    ns: NetNamespace
    workdir: Path
    db: Database
    settings: Settings
    monkeypatch: pytest.MonkeyPatch
    floor: Floor


@pytest.fixture
def world(
    ns: NetNamespace,
    workdir: Path,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    return World(ns, workdir, db, settings, monkeypatch, make_floor(db))


@contextmanager
def sip_dialer(world: World, port: int, workers: int = 1) -> Iterator[tuple[DialerJob, Dispenser]]:
    """The dialing job of ``callhopper dialer`` with ``CALLHOPPER_TELEPHONY=sip``, its
    ``workers`` SIP workers inside the namespace, the trunk at SIPp's ``port``, and the
    floor's agents ready."""
    ns, db, settings, monkeypatch = world.ns, world.db, world.settings, world.monkeypatch
    monkeypatch.setenv("CALLHOPPER_SIP_TRUNK_HOST", "127.0.0.1")
    monkeypatch.setenv("CALLHOPPER_SIP_TRUNK_PORT", str(port))
    monkeypatch.setenv("CALLHOPPER_SIP_WORKERS", str(workers))
    dispenser = Dispenser(SqlUnitOfWork(db), FrozenClock(T0))
    job = DialerJob(
        settings.model_copy(update={"telephony": "sip"}), dispenser, launcher=tuple(ns.prefix)
    )
    dispenser.on_work = job.wake
    thread = threading.Thread(target=job.run_forever, name="sip-dialer", daemon=True)
    thread.start()
    agent_ready(dispenser, world.floor)
    try:
        yield job, dispenser
    finally:
        job.stop()
        thread.join(30)
        assert not thread.is_alive()


def agent_ready(dispenser: Dispenser, floor: Floor) -> None:
    """The agents log in, get ready on voice and turn Get Record on (as the workspace)."""
    for actor in floor.agents.values():
        dispenser.login(actor, floor.campaign_id)
        dispenser.set_channel(actor, Channel.VOICE, True)
        dispenser.get_record(actor, floor.campaign_id)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(0.1)


def calls_to(db: Database, number: str) -> list[Call]:
    with db.read() as session:
        return list(session.scalars(select(Call).where(Call.number == number)))


def invites_to(sipp: Sipp, number: str) -> int:
    return sum(1 for m in sipp.invites() if number in m.first_line)


def test_no_invite_for_a_dnc_number_or_outside_the_window(world: World) -> None:
    """The allowed contact's line is busy (one INVITE, a busy call); the contact on the DNC
    list is closed without a call and the one outside its window waits, neither ever
    reaching the trunk."""
    db = world.db
    trunk = Sipp(world.ns, "busy", world.workdir, port=5090, media_port=16000)
    with sip_dialer(world, trunk.port):
        wait_until(
            lambda: any(c.result is not None for c in calls_to(db, ALLOWED)), 30, "the busy call"
        )
        time.sleep(SETTLE_S)
    trunk.stop()
    (call,) = calls_to(db, ALLOWED)
    assert (call.result, call.code) == (CallResult.BUSY.value, "486")
    assert invites_to(trunk, ALLOWED) == 1
    assert invites_to(trunk, ON_DNC) == 0 and not calls_to(db, ON_DNC)
    assert invites_to(trunk, OUTSIDE) == 0 and not calls_to(db, OUTSIDE)
    assert len(trunk.invites()) == 1
    with db.read() as session:
        codes = session.scalars(select(CampaignRecord.last_code)).all()
    assert "dnc" in codes  # closed for its list, never dialled


def test_a_worker_killed_mid_call_fails_its_call_once_and_is_replaced(world: World) -> None:
    """The allowed contact's phone rings; its worker is killed: the call is recorded as
    failed (``worker-lost``, never answered), the record is not dialled again at once (one
    INVITE, one call), and a new worker takes the dead one's place."""
    db = world.db
    trunk = Sipp(world.ns, "noanswer", world.workdir, port=5091, media_port=16100)
    with sip_dialer(world, trunk.port) as (job, _):
        wait_until(lambda: invites_to(trunk, ALLOWED) == 1, 30, "the INVITE")
        assert job.engine is not None
        telephony = job.engine.telephony
        assert isinstance(telephony, SipTelephony)
        (victim,) = telephony.pool.live()
        os.kill(victim.pid, signal.SIGKILL)
        wait_until(
            lambda: any(c.result is not None for c in calls_to(db, ALLOWED)), 10, "the outcome"
        )
        wait_until(
            lambda: (
                telephony.pool.workers[victim.number] is not victim
                and telephony.pool.workers[victim.number].writer is not None
            ),
            30,
            "a new worker",
        )
        time.sleep(SETTLE_S)
        assert telephony.pool.restarts == 1
    trunk.stop()
    (call,) = calls_to(db, ALLOWED)
    assert (call.result, call.code) == (CallResult.FAILED.value, WORKER_LOST)
    assert call.answered_at is None and call.connected_at is None
    assert invites_to(trunk, ALLOWED) == 1
    assert len(trunk.invites()) == 1


def test_an_answer_whose_agent_phone_is_not_registered_is_abandoned_not_left_silent(
    world: World,
) -> None:
    """No phone is registered for the agent (nothing listens where the agents' proxy
    should be): the bridge fails, so the call is not connected but abandoned: the engine
    plays the abandon message and hangs the contact up instead of leaving them on a silent
    line, and goes on dialling."""
    db = world.db
    trunk = Sipp(world.ns, "answer", world.workdir, port=5092, media_port=16200)
    world.monkeypatch.setenv("CALLHOPPER_SIP_PROXY_PORT", "5099")
    with sip_dialer(world, trunk.port) as (job, _):
        wait_until(
            lambda: any(c.ended_at is not None for c in calls_to(db, ALLOWED)), 30, "the end"
        )
        assert job.engine is not None
        assert (job.engine.stats.connected, job.engine.stats.abandoned) == (0, 1)
    trunk.stop()
    (call,) = calls_to(db, ALLOWED)
    assert call.answered_at is not None and call.result == CallResult.ABANDONED.value
    assert call.connected_at is None
    byes = [
        m for m in trunk.messages() if m.direction == "received" and m.first_line.startswith("BYE ")
    ]
    assert len(byes) == 1  # hung up by us
