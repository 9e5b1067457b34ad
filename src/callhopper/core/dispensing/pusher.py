"""The pusher: delivers records of push-preview and direct-push-preview campaigns, and
runs the timers of preview-type modes (accept timeout, preview timeout auto-dial).

The pusher wakes when a record or an agent of a pushed campaign becomes free in this
process, when a campaign's state changes here, and every ``poll_s`` while it has work to
watch (a pushed campaign on, a campaign with a preview timeout, a push waiting to be
accepted); with none, it sleeps ``idle_poll_s`` between looks, the delay within which it
notices work that another process started. Several pushers (one per server process) may run:
each push is the same atomic claim, and an agent holds one record per campaign at most (a
unique index), so none can push a record twice or give an agent two.
"""

from __future__ import annotations

import logging
import threading

from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.campaigns import DialingMode
from callhopper.domain.errors import CallhopperError

log = logging.getLogger(__name__)

#: Agents served per write transaction (one claim each: records with owners).
PUSH_BATCH = 25
#: Agents served per write transaction in a campaign whose records have no owner, where one
#: statement leases a record to each of them.
SHARED_PUSH_BATCH = 100
#: Seconds between looks for work while no campaign needs the pusher (a preview-only
#: floor): what another process starts is pushed within this delay.
IDLE_POLL_S = 10.0


class Pusher:
    def __init__(
        self, dispenser: Dispenser, *, poll_s: float = 1.0, idle_poll_s: float = IDLE_POLL_S
    ) -> None:
        self.dispenser = dispenser
        self.uow = dispenser.uow
        self.poll_s = poll_s
        self.idle_poll_s = idle_poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Campaign id -> its mode (modes are fixed at creation).
        self._modes: dict[int, DialingMode] = {}

    def wake(self) -> None:
        self._wake.set()

    def mode_of(self, campaign_id: int) -> DialingMode | None:
        """The campaign's mode (``None``: no such campaign), read once per campaign."""
        mode = self._modes.get(campaign_id)
        if mode is None:
            with self.uow.lookup() as tx:
                mode = tx.claims.mode(campaign_id)
            if mode is not None:
                self._modes[campaign_id] = mode
        return mode

    def has_work(self) -> bool:
        """Whether anything needs the pusher now (else it sleeps ``idle_poll_s``)."""
        with self.uow.lookup() as tx:
            return tx.claims.pusher_has_work()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def waiting_agents(self) -> list[tuple[int, int]]:
        """(campaign, agent) pairs of agents who should get a record now, longest wait first."""
        with self.uow.read() as tx:
            return tx.agents.waiting()

    def run_once(self) -> int:
        """Push what can be pushed and run the timers; returns how many records were pushed."""
        self.dispenser.expire_unaccepted()
        self.dispenser.auto_dial_due()
        by_campaign: dict[int, list[int]] = {}
        for campaign_id, agent_id in self.waiting_agents():
            by_campaign.setdefault(campaign_id, []).append(agent_id)
        pushed = 0
        for campaign_id, agent_ids in by_campaign.items():
            with self.uow.read() as tx:
                shared = not tx.claims.per_agent(campaign_id)
            # Batches keep each write transaction (SQLite's writer lock) short.
            size = SHARED_PUSH_BATCH if shared else PUSH_BATCH
            for start in range(0, len(agent_ids), size):
                batch = agent_ids[start : start + size]
                try:
                    done, exhausted = self.dispenser.push_many(campaign_id, batch, shared=shared)
                except CallhopperError as exc:  # the campaign changed (deleted …) meanwhile
                    log.warning("no pushes in campaign %s: %s", campaign_id, exc)
                    break
                pushed += len(done)
                if exhausted:
                    break  # nothing left for anyone in this campaign now
        return pushed

    def run_forever(self) -> None:
        """Push rounds until :meth:`stop`: one after each wake, and every ``poll_s`` while
        there is work to watch, every ``idle_poll_s`` while there is none."""
        while not self._stop.is_set():
            delay = self.poll_s
            try:
                if self.has_work():
                    self.run_once()
                else:
                    delay = self.idle_poll_s
            except Exception:  # keep pushing: one bad round must not stop deliveries
                log.exception("push round failed")
            self._wake.wait(delay)
            self._wake.clear()
