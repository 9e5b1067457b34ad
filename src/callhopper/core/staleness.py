"""The background loop that runs staleness rules when they are due."""

from __future__ import annotations

import logging
import threading
from typing import Final

from callhopper.core.owners import run_due
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.ports import Clock, UnitOfWork

logger = logging.getLogger(__name__)

#: How often the runner looks for due rules. Rules run at most every minute, so checking
#: more often than that only costs queries.
STALENESS_POLL_S: Final = 30.0


class StalenessRunner:
    """Runs every enabled staleness rule whose interval has passed, again and again.

    Several server processes may each run one: a rule is re-checked under lock before it
    runs, so a due rule runs once whichever process gets to it first. Drive it with
    :meth:`run_forever` and an event of your own, or with :meth:`run` and :meth:`stop`.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        *,
        actor: Actor = SYSTEM,
        poll_s: float = STALENESS_POLL_S,
    ) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s must be positive")
        self.uow = uow
        self.clock = clock
        self.actor = actor
        self.poll_s = poll_s
        self._stop = threading.Event()

    def run_once(self) -> dict[int, int]:
        """Run the rules that are due now; returns how many leads each released."""
        released = run_due(self.uow, self.actor, self.clock.now())
        for rule_id, count in released.items():
            logger.info("staleness rule %s released %s lead(s)", rule_id, count)
        return released

    def run_forever(self, stop: threading.Event, poll_s: float | None = None) -> None:
        """Run due rules every ``poll_s`` seconds (default: the runner's) until ``stop`` is
        set; a failing pass is logged and the loop goes on. Returns promptly once ``stop``
        is set."""
        interval = self.poll_s if poll_s is None else poll_s
        if interval <= 0:
            raise ValueError("poll_s must be positive")
        logger.info("staleness runner started (every %.0f s)", interval)
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("staleness pass failed")
            stop.wait(interval)
        logger.info("staleness runner stopped")

    def run(self) -> None:
        """Run until :meth:`stop` (for a thread of its own)."""
        self.run_forever(self._stop)

    def stop(self) -> None:
        """Make :meth:`run` return after the pass in progress, if any."""
        self._stop.set()
