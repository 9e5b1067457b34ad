"""The agent event bus: the adapter of :class:`callhopper.ports.events.AgentEvents`.

An event (:class:`~callhopper.domain.events.AgentEvent`) names an agent and says what
changed; the WebSocket handler of the process the agent is connected to loads what it
needs from the database and sends it. An event is never the only copy of a delivery: a
client that reconnects is sent every record still leased to it. A delivery event
dispatched in the process that made the delivery may carry the delivery as that
transaction saw it (``snapshot``), so that its handler sends it without reading it back;
other processes never receive the snapshot and read the database.

* :class:`LocalBus` delivers to the WebSocket connections of this process.
* :class:`PostgresBus` also sends them with ``NOTIFY`` (once the publishing transaction
  has committed) and runs a ``LISTEN`` thread, so that a delivery made by one server
  process reaches an agent connected to another. The publishing process dispatches its
  own events at once, not when they come back. A notification is lost when its process
  dies between the commit and the ``NOTIFY``: so every few seconds the listening thread
  also reads the pushed records held by the agents connected here, and sends those this
  process has not told them about (ADR 8).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from callhopper.domain.events import AgentEvent, HeldPush
from callhopper.ports.transactions import Transaction

log = logging.getLogger(__name__)

CHANNEL = "callhopper_events"
#: One notification per payload, in the array's order.
_NOTIFY_ALL = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"

Listener = Callable[[AgentEvent], None]
#: Reads the pushed records held by the given agents (``Dispenser.held_pushes``).
HeldPushes = Callable[[list[int]], list[HeldPush]]
#: How often the listening thread looks for pushes its agents were not told about.
RESYNC_EVERY_S = 2.0
#: A push younger than this may still have its notification on the way: not resent yet.
RESEND_AFTER = timedelta(seconds=2)


class LocalBus:
    """Fan-out to subscribers of this process (thread-safe; asyncio queues per connection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[
            int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[AgentEvent]]]
        ] = {}
        self._listeners: list[Listener] = []
        #: For each agent connected here: when this process last sent each record's
        #: delivery to their channels (wall clock), to tell a lost push from a sent one.
        self._sent: dict[int, dict[tuple[int, int], datetime]] = {}

    def subscribe(
        self, agent_id: int, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Queue[AgentEvent]:
        queue: asyncio.Queue[AgentEvent] = asyncio.Queue()
        with self._lock:
            self._queues.setdefault(agent_id, set()).add((loop, queue))
        return queue

    def unsubscribe(self, agent_id: int, queue: asyncio.Queue[AgentEvent]) -> None:
        with self._lock:
            subscribers = self._queues.get(agent_id, set())
            for item in [s for s in subscribers if s[1] is queue]:
                subscribers.discard(item)
            if not subscribers:
                self._queues.pop(agent_id, None)
                self._sent.pop(agent_id, None)

    def sent(self, agent_id: int, campaign_id: int, record_id: int) -> None:
        """A channel sent the agent this record's delivery (on connect, for instance)."""
        with self._lock:
            if agent_id in self._queues:
                self._sent.setdefault(agent_id, {})[(campaign_id, record_id)] = datetime.now(UTC)

    def connected(self, agent_id: int) -> bool:
        with self._lock:
            return bool(self._queues.get(agent_id))

    def add_listener(self, listener: Listener) -> None:
        """Called for every event seen by this process (e.g. to wake a worker)."""
        self._listeners.append(listener)

    def dispatch(self, event: AgentEvent) -> None:
        """Hand an event to this process's subscribers and listeners."""
        with self._lock:
            targets = list(self._queues.get(event.agent_id, ()))
            if targets and event.kind == "delivery" and event.record_id is not None:
                key = (event.campaign_id or 0, event.record_id)
                self._sent.setdefault(event.agent_id, {})[key] = datetime.now(UTC)
        for loop, queue in targets:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        for listener in self._listeners:
            listener(event)

    def publish(self, event: AgentEvent, tx: Transaction | None = None) -> None:
        """Publish an event: once ``tx`` commits (never if it rolls back), or at once.
        Dispatched earlier, a handler could read the database before the change is
        visible, and send stale state or drop a delivery it cannot find yet.

        An event published inside a savepoint that rolls back is still sent: publish after
        the savepoint."""
        if tx is None:
            self._send([event])
            return
        tx.on_commit(lambda: self._send([event]))

    def _send(self, events: list[AgentEvent]) -> None:
        """Hand on events that have happened (committed): to this process's subscribers."""
        for event in events:
            self.dispatch(event)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class PostgresBus(LocalBus):
    """A :class:`LocalBus` that also carries events between processes with NOTIFY/LISTEN.

    Notifications are sent after the commit by a thread of their own, several per
    statement, never in the publishing transaction: PostgreSQL serialises the commits of
    every transaction that notified (one lock for the whole database, held through the
    commit), which would make all Dones of all processes commit one at a time. A process
    that dies between a commit and its notification loses the event for other processes
    only; the change itself is committed, and a push lost that way is found by
    :meth:`resend_lost_pushes` in the process holding the agent's channel."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self.conninfo = conninfo
        #: Tells this process's notifications from other processes'.
        self._origin = uuid.uuid4().hex
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        #: Notifications waiting for the notifier thread (started with the first one).
        self._outbox: list[str] = []
        self._outbox_lock = threading.Lock()
        self._outbox_ready = threading.Event()
        self._notifier: threading.Thread | None = None
        #: Set by the process's wiring; without it, nothing is resent.
        self.held_pushes: HeldPushes | None = None

    def _send(self, events: list[AgentEvent]) -> None:
        """This process's subscribers at once; other processes through the notifier."""
        super()._send(events)
        payloads = [
            json.dumps({"origin": self._origin, "event": asdict(replace(e, snapshot=None))})
            for e in events
        ]
        with self._outbox_lock:
            self._outbox.extend(payloads)
            if self._notifier is None:
                self._notifier = threading.Thread(
                    target=self._notify, name="event-notifier", daemon=True
                )
                self._notifier.start()
        self._outbox_ready.set()

    def _notify(self) -> None:
        """Send the outbox, in order, in one statement per batch (autocommit), until stopped
        with nothing left to send."""
        conn: psycopg.Connection[Any] | None = None
        while True:
            self._outbox_ready.wait(0.5)
            self._outbox_ready.clear()
            with self._outbox_lock:
                batch, self._outbox = self._outbox, []
            if not batch:
                if self._stop.is_set():
                    break
                continue
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.conninfo, autocommit=True)
                conn.execute(_NOTIFY_ALL, (CHANNEL, batch))
            except psycopg.Error:
                log.exception("could not notify %d events; retrying", len(batch))
                if conn is not None:
                    conn.close()
                conn = None
                if self._stop.wait(1):
                    break  # stopping: other processes' clients resume on reconnect
                with self._outbox_lock:
                    self._outbox[:0] = batch
                self._outbox_ready.set()
        if conn is not None:
            conn.close()

    def _arrived(self, payload: str) -> None:
        """A notification: another process's event (ours were dispatched at commit)."""
        try:
            message = json.loads(payload)
            if message["origin"] == self._origin:
                return
            event = AgentEvent(**message["event"])
        except (ValueError, TypeError, KeyError):
            log.warning("ignored a malformed event: %r", payload)
            return
        self.dispatch(event)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start listening; returns once ``LISTEN`` is in place (or after ``timeout_s``), so
        that a process does not accept agents' connections before it can hear their events."""
        self._thread = threading.Thread(target=self._listen, name="event-listener", daemon=True)
        self._thread.start()
        if not self._listening.wait(timeout_s):
            log.warning("event listener not listening after %s s; still trying", timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._outbox_ready.set()
        for thread in (self._thread, self._notifier):
            if thread is not None:
                thread.join(timeout=5)

    def _listen(self) -> None:
        resync_at = time.monotonic() + RESYNC_EVERY_S
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._arrived(notice.payload)
                        if time.monotonic() >= resync_at:
                            self.resend_lost_pushes()
                            resync_at = time.monotonic() + RESYNC_EVERY_S
            except psycopg.Error:
                log.exception("event listener lost its connection; reconnecting")
                self._stop.wait(1)

    def resend_lost_pushes(self) -> int:
        """Dispatch the delivery of each pushed record held by an agent connected here that
        this process has not sent them since it was leased (its notification was lost: the
        pushing process died between its commit and its ``NOTIFY``). Returns how many."""
        if self.held_pushes is None:
            return 0
        with self._lock:
            agents = sorted(self._queues)
        if not agents:
            return 0
        read_at = datetime.now(UTC)
        try:
            held = self.held_pushes(agents)
        except Exception:  # the database is away: the next round tries again
            log.exception("could not read the pushes of connected agents")
            return 0
        now = datetime.now(UTC)
        lost = []
        held_keys = {(p.agent_id, p.campaign_id, p.record_id) for p in held}
        with self._lock:
            for push in held:
                sent = self._sent.get(push.agent_id, {}).get((push.campaign_id, push.record_id))
                if push.leased_at <= now - RESEND_AFTER and (sent is None or sent < push.leased_at):
                    lost.append(push)
            # Forget the records given back since they were sent. A record sent while the
            # read ran may be missing from it only because it was leased after: forgotten,
            # it would be sent again by the next round, a second delivery of one push.
            for agent_id, sent_to in self._sent.items():
                for key in [
                    k
                    for k, sent_at in sent_to.items()
                    if sent_at < read_at and (agent_id, *k) not in held_keys
                ]:
                    del sent_to[key]
        for push in lost:
            log.warning(
                "resending record %s of campaign %s to agent %s: its push was not heard",
                push.record_id,
                push.campaign_id,
                push.agent_id,
            )
            self.dispatch(AgentEvent(push.agent_id, "delivery", push.campaign_id, push.record_id))
        return len(lost)


EventBus = LocalBus
