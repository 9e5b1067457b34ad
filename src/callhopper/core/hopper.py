"""The hopper loader: keeps every lead-ownership campaign's hopper topped up (SPEC §7.2).

It runs inside ``callhopper serve`` or alone (``callhopper loader``). Any number of
processes may run it: a worker lease per campaign makes exactly one of them load a given
campaign at a time. It wakes on events of its own process (an agent logs in or out, leads
are inserted) and otherwise every ``poll_s`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import select

from callhopper.domain.campaigns import CampaignState
from callhopper.ports import Clock
from callhopper.store import hopper, workers
from callhopper.store.db import Database
from callhopper.store.models import Campaign

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=60)
DEFAULT_POLL_S = 10.0


class HopperLoader:
    """Loads hoppers; ``run_forever`` until ``stop`` is set."""

    def __init__(self, db: Database, clock: Clock, *, poll_s: float = DEFAULT_POLL_S) -> None:
        self.db = db
        self.clock = clock
        self.poll_s = poll_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        """Ask for a load now (an agent logged in or out, leads were inserted)."""
        self._wake.set()

    def run_once(self) -> dict[int, hopper.LoadReport]:
        """Load every running lead-ownership campaign this process may load now."""
        with self.db.read() as session:
            ids = list(
                session.scalars(
                    select(Campaign.id).where(
                        Campaign.enforce_lead_ownership.is_(True),
                        Campaign.state == CampaignState.ON.value,
                    )
                )
            )
        reports = {}
        for campaign_id in ids:
            report = self.load(campaign_id)
            if report is not None:
                reports[campaign_id] = report
        return reports

    def load(self, campaign_id: int) -> hopper.LoadReport | None:
        """One load of one campaign, if this process holds (or takes) its lease."""
        now = self.clock.now()
        with self.db.write() as session:
            if not workers.take(session, f"hopper:{campaign_id}", self.holder, now, LEASE_TTL):
                return None
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                return None
            return hopper.load(session, campaign, now)

    def run_forever(self) -> None:
        """Load, then sleep until woken, the poll interval passes, or :meth:`stop`."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad load must not kill the loader; it retries next round
                log.exception("hopper load failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
