"""A predictive campaign through the SIP adapter: the real dialing engine, as ``callhopper
dialer`` builds it with ``CALLHOPPER_TELEPHONY=sip``, dials ahead for three agents whose
phones (one SIPp answering for all, echoing their audio) are registered to Kamailio;
SIPp as the customers answers every call and hangs up after a few seconds of talk; the
agents wrap up each call and click Done. On SQLite and PostgreSQL.

It checks what predictive dialling must never get wrong: no record is dialled twice, every
answered person either reaches an agent (the agents' SIPp got the bridge's INVITE) or is
abandoned with the campaign's message (the shipped default), and nothing is left open.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.campaigns import CampaignSettings, DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.domain.errors import CallhopperError
from callhopper.settings import Settings
from callhopper.simulation.floor import CALLER_ID, Floor, create_floor
from callhopper.store.db import Database
from callhopper.store.models import Call
from callhopper.store.uow import SqlUnitOfWork
from tests.conftest import T0
from tests.sip.harness import AgentPeers, NetNamespace, Sipp, register_agents_in, require
from tests.sip.test_sip_engine import World, sip_dialer, wait_until

pytestmark = pytest.mark.slow

AGENTS, RECORDS = 3, 12
#: Two customer calls each: the pacer may dial ahead of the three agents.
WORKERS = 4
#: Where the customers' SIPp (the trunk) and the agents' SIPp listen.
TRUNK_PORT, AGENTS_PORT = 5090, 5099
#: How long a customer talks before hanging up (ms).
TALK_MS = 3000
#: Time enough for the engine to work through the list: 12 calls of about 3 s, three at
#: a time, wrap-ups and the pacer's pauses, on a loaded machine.
CAMPAIGN_S = 120


def calls(db: Database) -> list[Call]:
    with db.read() as session:
        return list(session.scalars(select(Call)))


class WrapUp:
    """The agents: each connected call that ended is wrapped up with Done, as an agent in
    the workspace does (polling the calls, from a thread of the test)."""

    def __init__(self, db: Database, dispenser: Dispenser, floor: Floor) -> None:
        self.db, self.dispenser, self.floor = db, dispenser, floor
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            for call in calls(self.db):
                if call.id in self.done or call.ended_at is None or call.connected_at is None:
                    continue
                assert call.agent_id is not None
                try:
                    self.dispenser.done(
                        self.floor.agents[call.agent_id],
                        self.floor.campaign_id,
                        call.record_id,
                        code="not_interested",
                    )
                except CallhopperError:
                    continue  # not on the agent's screen yet: the next look
                self.done.add(call.id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_predictive_campaign_reaches_registered_agents_and_dials_no_record_twice(
    ns: NetNamespace,
    workdir: Path,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require("kamailio", "rtpengine")
    floor = create_floor(
        SqlUnitOfWork(db), T0, agents=AGENTS, records=RECORDS, mode=DialingMode.PREDICTIVE,
        seed=7, settings=CampaignSettings(caller_ids=(CALLER_ID,)),
    )  # fmt: skip
    AgentPeers(ns, workdir)
    agents_phone = Sipp(
        ns, "agent", workdir, port=AGENTS_PORT, media_port=26000, extra=["-rtp_echo"]
    )
    register_agents_in(ns, [f"agent{n:03d}" for n in range(1, AGENTS + 1)], AGENTS_PORT)
    customers = Sipp(ns, "hangup", workdir, port=TRUNK_PORT, media_port=16000, delay_ms=TALK_MS)
    world = World(ns, workdir, db, settings, monkeypatch, floor)
    with sip_dialer(world, TRUNK_PORT, workers=WORKERS) as (job, dispenser):
        agents = WrapUp(db, dispenser, floor)
        try:
            wait_until(
                lambda: (
                    len({c.record_id for c in calls(db)}) == RECORDS
                    and all(c.result is not None for c in calls(db))
                    and all(c.id in agents.done for c in calls(db) if c.connected_at)
                ),
                CAMPAIGN_S,
                "every record's call to end and be wrapped up",
            )
        finally:
            agents.stop()
        assert job.engine is not None
        stats = job.engine.stats
    customers.stop()
    agents_phone.stop()
    placed = calls(db)
    # No record dialled twice: one call each, one INVITE to each number.
    assert Counter(c.record_id for c in placed).most_common(1)[0][1] == 1
    invited = Counter(m.first_line.split()[1].split("@")[0] for m in customers.invites())
    assert len(invited) == RECORDS and max(invited.values()) == 1
    # Every answered person reached an agent, or was abandoned with the message.
    assert all(c.answered_at is not None for c in placed)  # the customers answer every call
    connected = [c for c in placed if c.result == CallResult.CONNECTED.value]
    abandoned = [c for c in placed if c.result == CallResult.ABANDONED.value]
    assert len(connected) + len(abandoned) == RECORDS
    assert all(c.connected_at is not None and c.agent_id in floor.agents for c in connected)
    assert all(c.message_played for c in abandoned)
    assert len(connected) >= RECORDS // 2, (len(connected), len(abandoned))
    # Each connection was a bridge to a registered agent's phone: the agents' SIPp got one
    # INVITE per connected call (through Kamailio).
    assert len(agents_phone.invites()) == len(connected) == stats.connected
