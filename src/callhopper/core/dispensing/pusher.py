"""The pusher: delivers records of push-preview and direct-push-preview campaigns, and
runs the timers of preview-type modes (accept timeout, preview timeout auto-dial).

The pusher wakes when a record or an agent becomes free in this process, on events from
other processes, and every ``poll_s``. Several pushers (one per server process) may run:
each push is the same atomic claim, and an agent holds one record per campaign at most (a
unique index), so none can push a record twice or give an agent two.
"""

from __future__ import annotations

import logging
import threading

from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.errors import CallhopperError

log = logging.getLogger(__name__)

#: Agents served per write transaction (one claim each: records with owners).
PUSH_BATCH = 25
#: Agents served per write transaction in a campaign whose records have no owner, where one
#: statement leases a record to each of them.
SHARED_PUSH_BATCH = 100


class Pusher:
    def __init__(self, dispenser: Dispenser, *, poll_s: float = 1.0) -> None:
        self.dispenser = dispenser
        self.uow = dispenser.uow
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Campaign id -> whether it is a pushed campaign (modes are fixed at creation).
        self._pushed: dict[int, bool] = {}

    def wake(self) -> None:
        self._wake.set()

    def wake_for(self, campaign_id: int) -> None:
        """Wake for new work in a campaign (``0``: an agent became ready, any campaign).
        Only pushed campaigns need a round; a campaign's mode never changes, so it is
        looked up once."""
        pushed = self._pushed.get(campaign_id)
        if pushed is None and campaign_id:
            with self.uow.read() as tx:
                mode = tx.claims.mode(campaign_id)
            pushed = self._pushed[campaign_id] = mode is not None and mode.is_pushed
        if pushed is None or pushed:
            self.wake()

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
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep pushing: one bad round must not stop deliveries
                log.exception("push round failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()
