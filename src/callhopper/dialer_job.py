"""The dialing engine as a background job of a process (``callhopper serve``, ``callhopper
dialer``): its own thread with its own event loop, dialling through the telephony adapter
the settings choose."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid

from callhopper.core.dialer.dialing import Dialing
from callhopper.core.dialer.engine import DialerEngine
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.settings import Settings
from callhopper.telephony.simulator import SimulatedTelephony, SimulatorParams


def holder_name() -> str:
    """This process's name in pacing leases and in the calls it places."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DialerJob:
    """Runs a :class:`DialerEngine` until :meth:`stop` (see the module)."""

    def __init__(self, settings: Settings, dispenser: Dispenser) -> None:
        self.settings = settings
        self.dialing = Dialing(dispenser, holder_name())
        self.engine: DialerEngine | None = None
        self._ready = threading.Event()
        self._stopped = False

    @property
    def holder(self) -> str:
        return self.dialing.holder

    def telephony(self) -> SimulatedTelephony:
        """The built-in simulator, in real time (``simulator_speed`` times faster)."""
        params = SimulatorParams(person_share=self.settings.simulator_person_share)
        return SimulatedTelephony(
            params, seed=uuid.uuid4().int % 2**31, speed=self.settings.simulator_speed
        )

    def run_forever(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self.engine = DialerEngine(
            self.dialing, self.telephony(), lease_ttl_s=self.settings.dialer_lease_s
        )
        self._ready.set()
        if self._stopped:
            return
        await self.engine.run()

    def wake(self, campaign_id: int = 0) -> None:
        """Pace now (a record or an agent became free, a campaign started)."""
        if self.engine is not None:
            self.engine.wake(campaign_id)

    def stop(self) -> None:
        self._stopped = True
        if self.engine is not None:
            self.engine.stop()
