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
  own events at once, not when they come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import psycopg

from callhopper.domain.events import AgentEvent
from callhopper.ports.transactions import Transaction

log = logging.getLogger(__name__)

CHANNEL = "callhopper_events"
#: One notification per payload, in the array's order.
_NOTIFY_ALL = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"

Listener = Callable[[AgentEvent], None]


class LocalBus:
    """Fan-out to subscribers of this process (thread-safe; asyncio queues per connection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[
            int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[AgentEvent]]]
        ] = {}
        self._listeners: list[Listener] = []

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
    only; the change itself is committed, and the record reaches the agent when their
    client reconnects (or with the pusher's next round)."""

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
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._arrived(notice.payload)
            except psycopg.Error:
                log.exception("event listener lost its connection; reconnecting")
                self._stop.wait(1)


EventBus = LocalBus
