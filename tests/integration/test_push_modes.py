"""Push delivery modes and the agent's real-time channel, through the
real WebSocket.

Every test watches what the agent's client receives on ``/api/v1/agent/ws`` while it drives
the pusher (``run_once``) and the frozen clock by hand: no test waits for a timer. The last
test starts two ``callhopper serve`` processes on one PostgreSQL database and checks that a
push made by one reaches an agent connected to the other (LISTEN/NOTIFY).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect as ws_connect

from callhopper.clock import FrozenClock, SystemClock
from callhopper.core.dispensing import Dispenser, Pusher
from callhopper.events import LocalBus
from callhopper.store import agent_state
from callhopper.store.db import Database
from callhopper.store.models import CampaignRecord, Interaction, Record, User
from callhopper.store.uow import SqlUnitOfWork
from tests.campaign_helpers import (
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.conftest import T0
from tests.e2e.server import LiveServer
from tests.integration.test_claim_concurrency import (
    Server,
    free_port,
    stop_server,
    wait_until_healthy,
)
from tests.support import MakeUser, Person

#: How long a client waits for a message that must come (events cross a LISTEN thread on
#: PostgreSQL). Nothing waits this long when the code is right.
WAIT_S = 10.0
ACCEPT_TIMEOUT_S = 30
WS_PATH = "/api/v1/agent/ws"


# --- the agent's client ---------------------------------------------------------------------------


class AgentSocket:
    """An agent's WebSocket, read by a thread into a queue, so that a test can wait for a
    message with a limit instead of blocking for ever."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hello = self.next("hello")

    def _read(self) -> None:
        while True:
            try:
                message = self.session.receive_json()
            except BaseException:  # closed: the session ended
                return
            self.inbox.put(message)

    def next(self, kind: str, **expected: Any) -> dict[str, Any]:
        """The next message, which must be of type ``kind`` (with the ``expected`` fields)."""
        try:
            message = self.inbox.get(timeout=WAIT_S)
        except queue.Empty:
            pytest.fail(f"no {kind!r} message within {WAIT_S} s")
        assert message["type"] == kind, message
        for key, value in expected.items():
            assert message.get(key) == value, (key, message)
        return message

    def delivery(self, **expected: Any) -> dict[str, Any]:
        """The next message, which must be a delivery; returns the delivered record."""
        return dict(self.next("delivery", **expected)["delivery"])

    def quiet(self) -> None:
        """Nothing came before the answer to a ping: the server sends in order, so whatever
        it had to send before the ping would come first (and anything late fails the next
        :meth:`next`)."""
        self.session.send_text("ping")
        self.next("pong")


@contextmanager
def connect(client: TestClient, person: Person) -> Iterator[AgentSocket]:
    with client.websocket_connect(f"{WS_PATH}?token={person.token}") as session:
        yield AgentSocket(session)


# --- set-up and actions ---------------------------------------------------------------------------


def people(make_user: MakeUser, *names: str) -> list[Person]:
    return [make_user("agent", email=f"{n}@example.com", user_id=n, password=None) for n in names]


def push_campaign(
    api: TestClient,
    team: list[Person],
    mode: str,
    *,
    records: int = 4,
    name: str = "Collections",
    first: int = 0,
    calling_window: dict[str, str] | None = None,
    owners: list[str] | None = None,
    **settings: Any,
) -> int:
    """A started campaign of ``mode`` over shared accounts ``A00000`` … (in that order), or
    over accounts owned by these ``owners`` (user ids, one per account)."""
    rows = owned_rows(owners if owners is not None else [""] * records, start=first)
    list_id = make_list(api, rows, name=f"{name} list")
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, team, name=f"{name} team"),
        name=name,
        mode=mode,
        agent_owned_column="agent" if owners is not None else None,
        sort=[{"column": "account"}],
        settings={"accept_timeout_s": ACCEPT_TIMEOUT_S, **settings},
        **({"calling_window": calling_window} if calling_window else {}),
    )
    start(api, campaign_id)
    return campaign_id


def pusher(client: TestClient) -> Pusher:
    found: Pusher = client.app.state.pusher  # type: ignore[attr-defined]
    return found


def agent_call(
    client: TestClient, who: Person, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    response = client.request(method, f"/api/v1/agent{path}", json=body, headers=who.headers)
    assert response.is_success, response.text
    return response.json() if response.content else None


def login(client: TestClient, who: Person, campaign_id: int) -> None:
    agent_call(client, who, "POST", f"/campaigns/{campaign_id}/login")


def set_ready(
    client: TestClient, who: Person, ready: bool, channel: str = "outbound_preview"
) -> None:
    agent_call(client, who, "PUT", f"/channels/{channel}", {"ready": ready})


def receiving(client: TestClient, who: Person, campaign_id: int, on: bool) -> None:
    agent_call(client, who, "PUT", f"/campaigns/{campaign_id}/receiving", {"on": on})


def record_action(
    client: TestClient,
    who: Person,
    delivery: dict[str, Any],
    action: str,
    body: dict[str, Any] | None = None,
) -> Any:
    return agent_call(client, who, "POST", f"{record_path(delivery)}/{action}", body or {})


def record_path(delivery: dict[str, Any]) -> str:
    return f"/campaigns/{delivery['campaign_id']}/records/{delivery['record_id']}"


def account(delivery: dict[str, Any]) -> str:
    return str(next(f["value"] for f in delivery["fields"] if f["name"] == "account"))


def ready_on_preview(client: TestClient, who: Person) -> bool:
    state = agent_call(client, who, "GET", "/state")
    return bool(state["channels"]["outbound_preview"])


def holders(db: Database, campaign_id: int) -> dict[str, str]:
    """Account → user id of every record leased now in the campaign."""
    with db.read() as session:
        rows = session.execute(
            select(Record.data, User.user_id)
            .join(CampaignRecord, CampaignRecord.record_id == Record.id)
            .join(User, User.id == CampaignRecord.lease_agent_id)
            .where(CampaignRecord.campaign_id == campaign_id, CampaignRecord.status == "leased")
        ).all()
    return {data["account"]: user_id for data, user_id in rows}


def calls(db: Database, record_id: int) -> list[Interaction]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Interaction).where(
                    Interaction.record_id == record_id, Interaction.kind == "call"
                )
            )
        )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- push preview ---------------------------------------------------------------------------------


def test_push_preview_pushes_to_a_ready_agent_who_accepts(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    (alice,) = people(make_user, "alice")
    campaign_id = push_campaign(api, [alice], "push_preview")
    with connect(app_client, alice) as ws:
        assert ws.hello["channels"] == {"voice": False, "outbound_preview": False}
        login(app_client, alice, campaign_id)
        set_ready(app_client, alice, True)
        assert ws.next("state")["channels"]["outbound_preview"] is True
        assert pusher(app_client).run_once() == 1
        pushed = ws.delivery(campaign_id=campaign_id, reason=None)
        assert account(pushed) == "A00000" and pushed["mode"] == "push_preview"
        accept_by = T0 + timedelta(seconds=ACCEPT_TIMEOUT_S)
        assert pushed["accept_by"] == iso(accept_by)
        assert pushed["preview_deadline"] is None  # the preview starts when it is accepted

        clock.advance(timedelta(seconds=10))
        accepted = record_action(app_client, alice, pushed, "accept")
        assert accepted == {"record_id": pushed["record_id"], "dialled": None}
        # Accepted: the record is the agent's to work; the accept deadline no longer applies.
        clock.set(accept_by + timedelta(seconds=60))
        assert pusher(app_client).run_once() == 0  # one record at a time
        ws.quiet()
        (kept,) = agent_call(app_client, alice, "GET", "/deliveries")
        assert kept["record_id"] == pushed["record_id"] and kept["accept_by"] is None
        assert holders(db, campaign_id) == {"A00000": "alice"}
        assert ready_on_preview(app_client, alice)
        dialled = record_action(app_client, alice, pushed, "call")
        assert dialled["number"] == "+16022000000"


def test_reject_puts_the_record_on_top_and_the_agent_not_ready(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    alice, bob, carol = people(make_user, "alice", "bob", "carol")
    campaign_id = push_campaign(api, [alice, bob, carol], "push_preview")
    run = pusher(app_client).run_once
    for who in (alice, bob, carol):
        login(app_client, who, campaign_id)
    with connect(app_client, alice) as alice_ws, connect(app_client, bob) as bob_ws:
        pushed = {}
        for who, ws in ((alice, alice_ws), (bob, bob_ws)):
            set_ready(app_client, who, True)
            ws.next("state")
            assert run() == 1
            pushed[who.user_id] = ws.delivery()
        assert {k: account(v) for k, v in pushed.items()} == {"alice": "A00000", "bob": "A00001"}

        # Each rejects: the record goes back on top, the agent is set not ready and told.
        for who, ws in ((alice, alice_ws), (bob, bob_ws)):
            record_action(app_client, who, pushed[who.user_id], "reject")
            ended = ws.next("delivery_ended", reason="rejected")
            assert ended["record_id"] == pushed[who.user_id]["record_id"]
            state = ws.next("state", reason="rejected")
            assert state["channels"]["outbound_preview"] is False
            assert not ready_on_preview(app_client, who)
        assert run() == 0  # nobody is ready now
        assert holders(db, campaign_id) == {}

    # The next agent gets the record rejected last first: A00001 is on top now, before
    # A00000 (rejected earlier, and first in the sorting) and A00002 (the next unseen one).
    with connect(app_client, carol) as carol_ws:
        set_ready(app_client, carol, True)
        carol_ws.next("state")
        assert run() == 1
        assert account(carol_ws.delivery()) == "A00001"
    set_ready(app_client, alice, True)
    assert run() == 1
    assert holders(db, campaign_id) == {"A00001": "carol", "A00000": "alice"}


def test_no_answer_before_the_accept_timeout_is_a_reject(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    alice, bob, carol = people(make_user, "alice", "bob", "carol")
    campaign_id = push_campaign(api, [alice, bob, carol], "push_preview")
    run = pusher(app_client).run_once
    for who in (alice, bob, carol):
        login(app_client, who, campaign_id)
    with connect(app_client, alice) as alice_ws, connect(app_client, bob) as bob_ws:
        set_ready(app_client, alice, True)
        alice_ws.next("state")
        assert run() == 1
        assert account(alice_ws.delivery()) == "A00000"  # accept by T0 + 30 s
        clock.advance(timedelta(seconds=10))
        set_ready(app_client, bob, True)
        bob_ws.next("state")
        assert run() == 1
        assert account(bob_ws.delivery()) == "A00001"  # accept by T0 + 40 s

        clock.set(T0 + timedelta(seconds=ACCEPT_TIMEOUT_S - 1))
        assert run() == 0
        alice_ws.quiet()
        assert holders(db, campaign_id) == {"A00000": "alice", "A00001": "bob"}

        clock.set(T0 + timedelta(seconds=ACCEPT_TIMEOUT_S))
        assert run() == 0
        ended = alice_ws.next("delivery_ended", reason="accept_timeout", campaign_id=campaign_id)
        assert ended["record_id"] == 1
        state = alice_ws.next("state", reason="accept_timeout")
        assert state["channels"]["outbound_preview"] is False
        assert not ready_on_preview(app_client, alice)
        assert holders(db, campaign_id) == {"A00001": "bob"}
        bob_ws.quiet()  # bob's deadline has not come

        clock.advance(timedelta(seconds=10))
        assert run() == 0
        bob_ws.next("delivery_ended", reason="accept_timeout")
        assert bob_ws.next("state")["channels"]["outbound_preview"] is False
        assert holders(db, campaign_id) == {}
        # Expired pushes cannot be accepted any more.
        late = app_client.post(
            f"/api/v1/agent/campaigns/{campaign_id}/records/1/accept", headers=alice.headers
        )
        assert late.status_code == 404

    set_ready(app_client, carol, True)
    assert run() == 1
    assert holders(db, campaign_id) == {"A00001": "carol"}  # back on top, last one first


def test_push_preview_pushes_nothing_to_an_agent_not_ready(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "push_preview")
    run = pusher(app_client).run_once
    with connect(app_client, alice) as ws:
        # Get Record in a pushed mode logs in and says that records come on the channel.
        answer = agent_call(app_client, alice, "POST", f"/campaigns/{campaign_id}/get-record")
        assert answer["delivery"] is None and answer["reason"] == "pushed"
        set_ready(app_client, bob, True)  # ready, but not logged into the campaign
        assert run() == 0
        set_ready(app_client, alice, True, channel="voice")  # ready on the wrong channel
        ws.next("state")
        assert run() == 0
        set_ready(app_client, alice, False)
        ws.next("state")
        assert run() == 0
        ws.quiet()
        assert agent_call(app_client, alice, "GET", "/deliveries") == []
        assert holders(db, campaign_id) == {}

        set_ready(app_client, alice, True)
        ws.next("state")
        assert run() == 1
        assert account(ws.delivery()) == "A00000"
        assert holders(db, campaign_id) == {"A00000": "alice"}


def test_a_deactivated_agent_does_not_stop_pushes_to_the_others(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "push_preview")
    login(app_client, alice, campaign_id)
    set_ready(app_client, alice, True)
    clock.advance(timedelta(seconds=1))
    login(app_client, bob, campaign_id)  # after alice: the pusher comes to bob second
    set_ready(app_client, bob, True)
    assert api.post("/api/v1/users/alice/deactivate").status_code == 200
    with connect(app_client, bob) as ws:
        assert pusher(app_client).run_once() == 1
        assert account(ws.delivery()) == "A00000"
    assert holders(db, campaign_id) == {"A00000": "bob"}


@pytest.mark.parametrize("mode", ["push_preview", "direct_push_preview"])
def test_the_agent_who_has_waited_longest_gets_the_next_record(
    mode: str,
    api: TestClient,
    app_client: TestClient,
    make_user: MakeUser,
    clock: FrozenClock,
    db: Database,
) -> None:
    """Records scarcer than agents go to whoever has waited longest, not to whoever logged
    in first (the login order would starve the last agents of a busy floor)."""
    team = people(make_user, "alice", "bob", "carol")
    alice, bob, carol = team
    campaign_id = push_campaign(api, team, mode, records=3)
    for who in team:  # alice logs in first, carol last
        login(app_client, who, campaign_id)
        if mode == "push_preview":
            set_ready(app_client, who, True)
        clock.advance(timedelta(seconds=1))
    run = pusher(app_client).run_once
    assert run() == 3
    assert holders(db, campaign_id) == {"A00000": "alice", "A00001": "bob", "A00002": "carol"}

    def held(who: Person) -> dict[str, Any]:
        (found,) = agent_call(app_client, who, "GET", "/deliveries")
        return dict(found)

    def finish(who: Person) -> None:
        record = held(who)
        if mode == "push_preview":
            record_action(app_client, who, record, "accept")
        record_action(app_client, who, record, "done", {"code": "not_interested"})

    clock.advance(timedelta(seconds=10))
    finish(carol)  # carol finishes first …
    clock.advance(timedelta(seconds=5))
    finish(alice)  # … then alice; nothing is left for either
    assert run() == 0
    record_action(app_client, bob, held(bob), "reject")  # one record back: carol's
    assert run() == 1
    assert holders(db, campaign_id) == {"A00001": "carol"}
    assert [a for _, a in pusher(app_client).waiting_agents()] == [_id(db, "alice")]

    if mode == "push_preview":
        # Getting ready starts a wait too: bob, ready again after a pause, comes after alice.
        set_ready(app_client, bob, True)
        assert [a for _, a in pusher(app_client).waiting_agents()] == [
            _id(db, "alice"),
            _id(db, "bob"),
        ]
    else:
        # Turning Get Record on again starts a new wait: alice, back from a pause, comes
        # after bob, who turned it on before her pause ended.
        receiving(app_client, alice, campaign_id, False)
        receiving(app_client, bob, campaign_id, True)
        clock.advance(timedelta(seconds=5))
        receiving(app_client, alice, campaign_id, True)
        assert [a for _, a in pusher(app_client).waiting_agents()] == [
            _id(db, "bob"),
            _id(db, "alice"),
        ]


def test_done_pushes_the_next_record_at_once_when_nobody_waits_longer(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    """Direct push preview: the Done that frees an agent leases their next record in its own
    transaction (no pusher round in between) unless another agent waits for one."""
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "direct_push_preview", records=3)
    receiving(app_client, bob, campaign_id, False)
    with connect(app_client, alice) as ws:
        receiving(app_client, alice, campaign_id, True)
        ws.next("state", receiving=True)
        assert pusher(app_client).run_once() == 1
        first = ws.delivery()
        # The push was sent as the pusher's transaction read it (no read-back in the socket
        # handler): the same as the delivery read from the database (the clock stands still).
        assert agent_call(app_client, alice, "GET", record_path(first)) == first
        record_action(app_client, alice, first, "done", {"code": "not_interested"})
        second = ws.delivery()  # no pusher round ran
        assert account(second) == "A00001"
        assert holders(db, campaign_id) == {"A00001": "alice"}
        assert agent_call(app_client, alice, "GET", record_path(second)) == second

        # bob now waits too (no pusher round has served him yet): alice's next Done leaves
        # the last record to the pusher, which serves bob, who has waited longer.
        receiving(app_client, bob, campaign_id, True)
        clock.advance(timedelta(seconds=5))
        record_action(app_client, alice, second, "done", {"code": "not_interested"})
        ws.quiet()
        assert holders(db, campaign_id) == {}
        assert pusher(app_client).run_once() == 1
        assert holders(db, campaign_id) == {"A00002": "bob"}


def test_done_pushes_the_next_owned_record_at_once_while_another_agent_waits(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """Agent-owned records are their owner's alone: an agent who waits for a push (bob, who
    owns nothing left) does not compete with alice for hers."""
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(
        api, [alice, bob], "direct_push_preview", owners=["alice", "alice", "bob"]
    )
    with connect(app_client, alice) as ws:
        receiving(app_client, alice, campaign_id, True)
        ws.next("state", receiving=True)
        receiving(app_client, bob, campaign_id, True)
        assert pusher(app_client).run_once() == 2
        first = ws.delivery()
        record_action(
            app_client,
            bob,
            {"campaign_id": campaign_id, "record_id": _held(db, "bob")},
            "done",
            {"code": "not_interested"},
        )
        assert [a for _, a in pusher(app_client).waiting_agents()] == [_id(db, "bob")]
        record_action(app_client, alice, first, "done", {"code": "not_interested"})
        second = ws.delivery()  # no pusher round ran, and bob still waits
        assert account(second) == "A00001"
        assert holders(db, campaign_id) == {"A00001": "alice"}


def test_a_push_to_an_agent_who_got_a_record_meanwhile_is_skipped(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """Another process pushed to alice after this pusher found her waiting: her second
    lease is refused (one per agent and campaign), the round goes on to bob."""
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "direct_push_preview")
    receiving(app_client, alice, campaign_id, True)
    receiving(app_client, bob, campaign_id, True)
    dispenser = pusher(app_client).dispenser
    ids = [_id(db, "alice"), _id(db, "bob")]
    assert dispenser.push_many(campaign_id, ids[:1], shared=True) == (
        [(ids[0], _rid(db, campaign_id, 0))],
        False,
    )
    pushed, exhausted = dispenser.push_many(campaign_id, ids, shared=True)
    assert pushed == [(ids[1], _rid(db, campaign_id, 1))] and not exhausted
    assert holders(db, campaign_id) == {"A00000": "alice", "A00001": "bob"}


def test_who_waits_is_asked_with_one_index_probe_per_agent_whatever_the_statistics(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    """Whether an agent holds a lease is a probe of the one-lease-per-agent index for each
    session: statistics taken before the shift (no leases) must not turn it into comparing
    every session with every lease (200 ms a Done at 1,000 agents)."""
    if db.dialect != "postgresql":
        pytest.skip("a PostgreSQL plan")
    team = people(make_user, *(f"a{n}" for n in range(30)))
    campaign_id = push_campaign(api, team, "direct_push_preview", records=40)
    with db.write() as session:
        session.execute(text("ANALYZE"))  # no lease yet
    for who in team:
        receiving(app_client, who, campaign_id, True)
    assert pusher(app_client).run_once() == 30  # now every agent holds one
    statements = {
        "waiting": agent_state._WAITING_IN,
        "first in line": agent_state._TWO_WAITING_IN,
        "the agent waits": agent_state._WAITING_AGENT,
    }
    for name, statement in statements.items():
        bound = statement.params(campaign=campaign_id, agent=_id(db, "a0"))
        sql = str(
            bound.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        with db.read() as session:
            found = (
                session.connection()
                .exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql.replace("%%", "%"))
                .scalar_one()
            )
        nodes = list(_plan_nodes(found[0]["Plan"]))
        assert not [n for n, _ in nodes if n.get("Join Type") == "Anti"], name
        # Each look at the leases runs in a subplan: once per session, for that session.
        per_session = [sub for n, sub in nodes if n.get("Relation Name") == "campaign_records"]
        assert per_session and all(per_session), name


def _plan_nodes(
    node: dict[str, Any], in_subplan: bool = False
) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of a plan, and whether it runs in a subplan (once per outer row)."""
    in_subplan = in_subplan or node.get("Parent Relationship") == "SubPlan"
    yield node, in_subplan
    for child in node.get("Plans", []):
        yield from _plan_nodes(child, in_subplan)


def _rid(db: Database, campaign_id: int, n: int) -> int:
    """The id of the campaign's ``n``-th record (account ``A0000n``)."""
    with db.read() as session:
        ids = session.scalars(
            select(CampaignRecord.record_id)
            .where(CampaignRecord.campaign_id == campaign_id)
            .order_by(CampaignRecord.record_id)
        ).all()
    return ids[n]


def _held(db: Database, user_id: str) -> int:
    with db.read() as session:
        found = session.scalar(
            select(CampaignRecord.record_id)
            .join(User, User.id == CampaignRecord.lease_agent_id)
            .where(User.user_id == user_id, CampaignRecord.status == "leased")
        )
    assert found is not None
    return found


def _id(db: Database, user_id: str) -> int:
    with db.read() as session:
        found = session.scalar(select(User.id).where(User.user_id == user_id))
    assert found is not None
    return found


# --- direct push preview --------------------------------------------------------------------------


def test_direct_push_delivers_continuously_while_receiving(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "direct_push_preview", records=6)
    run = pusher(app_client).run_once
    receiving(app_client, bob, campaign_id, False)  # logged in, toggle off …
    set_ready(app_client, bob, True)  # … and ready on outbound_preview: still nothing
    with connect(app_client, alice) as ws:
        set_ready(app_client, alice, False)  # not ready: direct push ignores it
        ws.next("state")
        receiving(app_client, alice, campaign_id, True)  # Get Record
        ws.next("state", campaign_id=campaign_id, receiving=True)
        assert run() == 1
        first = ws.delivery()
        assert account(first) == "A00000"
        assert first["mode"] == "direct_push_preview" and first["accept_by"] is None
        assert run() == 0  # one record at a time

        # Done: the next record comes by itself (leased by the Done: no round needed), and
        # again.
        record_action(app_client, alice, first, "done", {"code": "not_interested"})
        second = ws.delivery()
        assert account(second) == "A00001"
        dialled = record_action(app_client, alice, second, "accept")  # accepting dials
        assert dialled["dialled"]["number"] == "+16022000001"
        record_action(app_client, alice, second, "done", {"code": "not_interested"})
        assert run() == 0
        third = ws.delivery()
        assert account(third) == "A00002"

        # Done and Stop: nothing more until Get Record.
        record_action(app_client, alice, third, "done", {"code": "not_interested", "stop": True})
        ws.next("state", campaign_id=campaign_id, receiving=False)
        assert run() == 0
        ws.quiet()
        mine = agent_call(app_client, alice, "GET", "/campaigns")
        assert mine[0]["receiving"] is False and mine[0]["record_id"] is None

        receiving(app_client, alice, campaign_id, True)
        ws.next("state", receiving=True)
        assert run() == 1
        fourth = ws.delivery()
        assert account(fourth) == "A00003"
        # Stop with a record in hand: it stays to be finished; nothing comes after it.
        receiving(app_client, alice, campaign_id, False)
        ws.next("state", receiving=False)
        assert holders(db, campaign_id) == {"A00003": "alice"}
        record_action(app_client, alice, fourth, "done", {"code": "not_interested"})
        assert run() == 0
        ws.quiet()
    assert holders(db, campaign_id) == {}


# --- preview timeout ------------------------------------------------------------------------------

PREVIEW_TIMEOUT_S = 20


@pytest.mark.parametrize("mode", ["preview", "push_preview", "direct_push_preview"])
def test_preview_timeout_dials_automatically(
    mode: str,
    api: TestClient,
    app_client: TestClient,
    make_user: MakeUser,
    clock: FrozenClock,
    db: Database,
) -> None:
    (alice,) = people(make_user, "alice")
    campaign_id = push_campaign(api, [alice], mode, preview_timeout_s=PREVIEW_TIMEOUT_S)
    run = pusher(app_client).run_once
    with connect(app_client, alice) as ws:
        if mode == "preview":
            delivery = agent_call(app_client, alice, "POST", f"/campaigns/{campaign_id}/get-record")
            delivery = delivery["delivery"]
            previewed_at = T0
        else:
            login(app_client, alice, campaign_id)
            set_ready(app_client, alice, True)
            ws.next("state")
            assert run() == 1
            delivery = ws.delivery()
            previewed_at = T0
            if mode == "push_preview":
                assert delivery["preview_deadline"] is None  # not until accepted
                previewed_at = T0 + timedelta(seconds=5)
                clock.set(previewed_at)
                record_action(app_client, alice, delivery, "accept")
                (delivery,) = agent_call(app_client, alice, "GET", "/deliveries")
        deadline = previewed_at + timedelta(seconds=PREVIEW_TIMEOUT_S)
        assert delivery["preview_deadline"] == iso(deadline)

        clock.set(deadline - timedelta(seconds=1))
        run()
        assert calls(db, delivery["record_id"]) == []
        ws.quiet()

        clock.set(deadline)
        run()
        message = ws.next("delivery", reason="auto_dial", number="+16022000000")
        assert message["delivery"]["preview_deadline"] is None  # dialled: no deadline left
        (call,) = calls(db, delivery["record_id"])
        assert (call.number, call.note) == ("+16022000000", "automatic: preview timeout")
        assert call.at == deadline
        clock.advance(timedelta(seconds=PREVIEW_TIMEOUT_S))
        run()
        assert len(calls(db, delivery["record_id"])) == 1  # dialled once
        assert holders(db, campaign_id) == {"A00000": "alice"}  # still the agent's


def test_preview_timeout_never_dials_outside_the_calling_window(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock, db: Database
) -> None:
    (alice,) = people(make_user, "alice")
    # T0 is 08:00 in Phoenix: the window closes a minute later, before the deadline.
    campaign_id = push_campaign(
        api,
        [alice],
        "direct_push_preview",
        calling_window={"start": "08:00", "end": "08:01"},
        preview_timeout_s=90,
    )
    run = pusher(app_client).run_once
    with connect(app_client, alice) as ws:
        receiving(app_client, alice, campaign_id, True)
        ws.next("state")
        assert run() == 1
        delivery = ws.delivery()
        assert delivery["calling_window_open"] is True
        assert delivery["preview_deadline"] == iso(T0 + timedelta(seconds=90))
        clock.set(T0 + timedelta(seconds=90))
        run()
        ws.quiet()
        assert calls(db, delivery["record_id"]) == []
        assert holders(db, campaign_id) == {"A00000": "alice"}  # kept, not dialled


# --- reconnect and resume -------------------------------------------------------------------------


def test_reconnect_resumes_every_record_still_leased(
    api: TestClient, app_client: TestClient, make_user: MakeUser, db: Database
) -> None:
    (alice,) = people(make_user, "alice")
    pushed_id = push_campaign(api, [alice], "push_preview", name="Pushed")
    direct_id = push_campaign(api, [alice], "direct_push_preview", name="Direct", first=10)
    preview_id = push_campaign(api, [alice], "preview", name="Pulled", first=20)
    run = pusher(app_client).run_once
    login(app_client, alice, pushed_id)
    set_ready(app_client, alice, True)
    with connect(app_client, alice):
        assert run() == 1
        # The connection drops before the client reads the push.
    assert holders(db, pushed_id) == {"A00000": "alice"}  # a dropped connection keeps it

    # Deliveries made while no connection is open wait for the next one.
    receiving(app_client, alice, direct_id, True)
    assert run() == 1
    pulled = agent_call(app_client, alice, "POST", f"/campaigns/{preview_id}/get-record")
    assert pulled["delivery"] is not None
    expected = {
        (pushed_id, "A00000"),
        (direct_id, "A00010"),
        (preview_id, "A00020"),
    }
    for _ in range(2):  # and again on a second reconnect: nothing is used up
        with connect(app_client, alice) as ws:
            messages = [ws.next("delivery", resumed=True) for _ in expected]
            resumed = [m["delivery"] for m in messages]
            assert {(d["campaign_id"], account(d)) for d in resumed} == expected
            # The same top-level keys as a live delivery.
            assert all(
                (m["campaign_id"], m["record_id"], m["reason"])
                == (m["delivery"]["campaign_id"], m["delivery"]["record_id"], None)
                for m in messages
            )
            ws.quiet()

    with connect(app_client, alice) as ws:
        resumed = [ws.next("delivery", resumed=True)["delivery"] for _ in expected]
        # Live pushes follow the resumed ones on the same connection.
        (direct,) = [d for d in resumed if d["campaign_id"] == direct_id]
        record_action(app_client, alice, direct, "done", {"code": "not_interested"})
        live = ws.next("delivery", campaign_id=direct_id)
        assert "resumed" not in live and account(live["delivery"]) == "A00011"


def test_the_channel_closes_with_a_code_for_a_bad_token_or_a_missing_right(
    app_client: TestClient, make_user: MakeUser
) -> None:
    watcher = make_user("supervisor", email="sue@example.com", user_id="sue", password=None)
    for token, code in (("chp_not-a-token", 4401), (watcher.token, 4403)):
        with app_client.websocket_connect(f"{WS_PATH}?token={token}") as session:
            with pytest.raises(WebSocketDisconnect) as closed:
                session.receive_json()
        assert closed.value.code == code


# --- two server processes on PostgreSQL -----------------------------------------------------------


def start_server(db_url: str, log_path: Path, **env: str) -> Server:
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "callhopper.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "CALLHOPPER_DATABASE_URL": db_url,
            "CALLHOPPER_HOST": "127.0.0.1",
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return Server(f"http://127.0.0.1:{port}", process, log_path, log)


@pytest.fixture
def listener_and_pusher(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Server A answers agents but runs no background jobs (so it never pushes); server B
    runs them. Both on one PostgreSQL database."""
    if not db_url.startswith("postgresql"):
        pytest.skip("events cross processes through PostgreSQL only")
    servers: list[Server] = []
    try:
        servers.append(start_server(db_url, tmp_path / "a.log", CALLHOPPER_RUN_WORKERS="false"))
        servers.append(start_server(db_url, tmp_path / "b.log"))
        deadline = time.monotonic() + 60
        for server in servers:
            wait_until_healthy(server, deadline)
        yield servers[0], servers[1]
    finally:
        for server in servers:
            stop_server(server)


def test_a_push_made_by_one_server_reaches_an_agent_connected_to_another(
    listener_and_pusher: tuple[Server, Server], api: TestClient, make_user: MakeUser, admin: Person
) -> None:
    a, b = listener_and_pusher
    (alice,) = people(make_user, "alice")
    list_id = make_list(api, owned_rows([""] * 3))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, [alice]),
        mode="direct_push_preview",
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    ws_url = a.url.replace("http://", "ws://") + f"{WS_PATH}?token={alice.token}"
    with (
        httpx.Client(base_url=f"{a.url}/api/v1", headers=alice.headers, timeout=30) as on_a,
        ws_connect(ws_url, open_timeout=WAIT_S) as ws,
    ):

        def receive(kind: str) -> dict[str, Any]:
            while True:  # state messages of alice's own changes may come first
                message = json.loads(ws.recv(timeout=WAIT_S))
                if message["type"] == kind:
                    return dict(message)
                assert message["type"] == "state", message

        assert receive("hello")["user_id"] == "alice"
        assert on_a.put(f"/agent/campaigns/{campaign_id}/receiving", json={"on": True}).is_success
        # The campaign starts through server B; B's pusher pushes; A tells alice.
        started = httpx.post(
            f"{b.url}/api/v1/campaigns/{campaign_id}/start", headers=admin.headers, timeout=30
        )
        assert started.status_code == 200, started.text
        assert receive("campaign") == {
            "type": "campaign",
            "campaign_id": campaign_id,
            "record_id": None,
            "reason": "start",
        }
        first = receive("delivery")["delivery"]
        assert account(first) == "A00000"
        # Done through A: B's pusher pushes the next record (on its next round), A sends it.
        done = on_a.post(
            f"/agent/campaigns/{campaign_id}/records/{first['record_id']}/done",
            json={"code": "not_interested"},
        )
        assert done.status_code == 204, done.text
        assert account(receive("delivery")["delivery"]) == "A00001"
    for server in (a, b):
        assert server.process.poll() is None, server.log_text()


def test_a_push_whose_notification_was_lost_still_reaches_the_agent(
    db_url: str, db: Database, api: TestClient, make_user: MakeUser, tmp_path: Path
) -> None:
    """A process that dies between a push's commit and its NOTIFY: the push is committed and
    nobody is told. The process holding the agent's channel finds it held and sends it (a
    direct push would otherwise wait for its agent until the lease ran out)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("events cross processes through PostgreSQL only")
    (alice,) = people(make_user, "alice")
    campaign_id = push_campaign(api, [alice], "direct_push_preview", records=2)
    with db.read() as session:
        alice_id = session.scalar(select(User.id).where(User.user_id == "alice"))
    assert alice_id is not None
    # No background jobs: this process never pushes, it only holds alice's channel.
    holder = LiveServer(
        database_url=db_url,
        log_path=tmp_path / "holder.log",
        extra_env={"CALLHOPPER_RUN_WORKERS": "false"},
    )
    holder.start()
    try:
        ws_url = holder.url.replace("http://", "ws://") + f"{WS_PATH}?token={alice.token}"
        with (
            httpx.Client(base_url=f"{holder.url}/api/v1", headers=alice.headers) as on_holder,
            ws_connect(ws_url, open_timeout=WAIT_S) as ws,
        ):

            def receive(kind: str, within_s: float) -> dict[str, Any]:
                while True:  # state messages of alice's own changes come first
                    message = json.loads(ws.recv(timeout=within_s))
                    if message["type"] == kind:
                        return dict(message)
                    assert message["type"] == "state", message

            assert receive("hello", WAIT_S)["user_id"] == "alice"
            toggle = f"/agent/campaigns/{campaign_id}/receiving"
            assert on_holder.put(toggle, json={"on": True}).status_code == 204
            # The pushing process: its events reach its own sockets only (it has none), and
            # it dies before any NOTIFY.
            silent = Dispenser(SqlUnitOfWork(db), SystemClock(), bus=LocalBus())
            pushed, _ = silent.push_many(campaign_id, [alice_id], shared=True)
            assert len(pushed) == 1
            ((_, record_id),) = pushed
            resent = receive("delivery", 3 * WAIT_S)
            assert resent["record_id"] == record_id and account(resent["delivery"]) == "A00000"
    finally:
        holder.stop()
    assert "its push was not heard" in holder.log_path.read_text()


class TickingClock(FrozenClock):
    """A frozen clock that moves one second on from each reading."""

    def now(self) -> datetime:
        reading = super().now()
        self.advance(timedelta(seconds=1))
        return reading


def test_each_push_of_a_batch_takes_its_own_time(
    app_client: TestClient, api: TestClient, db: Database, make_user: MakeUser
) -> None:
    """Where the pusher serves waiting agents one claim after the other (records with owners,
    or a batch statement that lost a race), in one transaction, a record given back by
    another transaction meanwhile (an accept timeout, a Done in another process) may be
    claimed later in that round: stamped with the time the round began, its new lease would
    start before the release that freed it. Each push reads the clock when it claims. (The
    one-statement batch takes one time for all; the history's rule that a delivery never
    starts before the record's last release covers it.)"""
    alice, bob = people(make_user, "alice", "bob")
    campaign_id = push_campaign(api, [alice, bob], "direct_push_preview")
    for who in (alice, bob):
        receiving(app_client, who, campaign_id, True)
    with db.read() as session:
        ids = list(session.scalars(select(User.id).where(User.user_id.in_(["alice", "bob"]))))
    dispenser = Dispenser(SqlUnitOfWork(db), TickingClock(T0), bus=LocalBus())
    pushed, _ = dispenser.push_many(campaign_id, sorted(ids), shared=False)
    assert len(pushed) == 2
    with db.read() as session:
        leased = dict(
            session.execute(
                select(CampaignRecord.lease_agent_id, CampaignRecord.leased_at).where(
                    CampaignRecord.campaign_id == campaign_id,
                    CampaignRecord.status == "leased",
                )
            ).all()
        )
    first, second = (leased[agent] for agent, _ in pushed)
    assert first is not None and second is not None and first < second


# --- when the pusher sleeps -----------------------------------------------------------------------


def test_the_pusher_watches_only_while_a_campaign_needs_it(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    """A preview-only floor gives the pusher nothing to watch (it sleeps ``idle_poll_s``,
    and a preview campaign's Done does not wake it); a pushed campaign on, a campaign with a
    preview timeout and a push waiting to be accepted each do."""
    alice, bob = people(make_user, "alice", "bob")
    the_pusher = pusher(app_client)
    preview = push_campaign(api, [alice], "preview", name="Preview")
    assert not the_pusher.has_work()
    delivery = get_record(app_client, alice, preview)
    assert delivery is not None
    the_pusher._wake.clear()
    done(app_client, alice, preview, delivery["record_id"])
    assert not the_pusher._wake.is_set()

    pushed = push_campaign(api, [bob], "push_preview", name="Pushed", first=10)
    assert the_pusher.has_work()
    login(app_client, bob, pushed)
    set_ready(app_client, bob, True)
    assert the_pusher.run_once() == 1
    response = api.post(f"/api/v1/campaigns/{pushed}/stop")
    assert response.status_code == 200, response.text
    assert the_pusher.has_work()  # stopping, but bob's push still waits for his answer
    clock.advance(timedelta(seconds=ACCEPT_TIMEOUT_S + 1))
    the_pusher.run_once()  # the accept timeout takes it back
    assert not the_pusher.has_work()

    push_campaign(api, [alice], "preview", name="Timed", first=20, preview_timeout_s=60)
    assert the_pusher.has_work()
