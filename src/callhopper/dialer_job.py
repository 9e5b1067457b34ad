"""The dialing engine as a background job of a process (``callhopper serve``, ``callhopper
dialer``): its own thread with its own event loop, dialling through the telephony adapter
the settings choose (``CALLHOPPER_TELEPHONY``)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable

from callhopper.core.dialer.dialing import Dialing
from callhopper.core.dialer.engine import DialerEngine, default_line
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.domain.calls import AgentLine
from callhopper.ports.telephony import Telephony
from callhopper.settings import Settings
from callhopper.telephony.simulator import SimulatedTelephony, SimulatorParams
from callhopper.telephony.sip.adapter import SipTelephony
from callhopper.telephony.sip.available import INSTALL_EXTRA, missing_modules
from callhopper.telephony.sip.settings import SipSettings


class TelephonyUnavailable(RuntimeError):
    """The settings choose a telephony adapter this machine cannot run."""


def holder_name() -> str:
    """This process's name in pacing leases and in the calls it places."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def sip_line(dialing: Dialing, domain: str) -> Callable[[int], AgentLine]:
    """Agents' lines over SIP: ``sip:<user_id>@<domain>`` (the user id is the agent's
    sign-in name), where the workspace's browser phone (or any softphone) registers."""

    def line(agent_id: int) -> AgentLine:
        return AgentLine(str(agent_id), f"sip:{dialing.user_id_of(agent_id)}@{domain}")

    return line


class DialerJob:
    """Runs a :class:`DialerEngine` until :meth:`stop` (see the module)."""

    def __init__(
        self, settings: Settings, dispenser: Dispenser, *, launcher: tuple[str, ...] = ()
    ) -> None:
        self.settings = settings
        self.dialing = Dialing(dispenser, holder_name())
        #: A command the SIP workers are started under (tests: a network namespace).
        self.launcher = launcher
        self.engine: DialerEngine | None = None
        self._ready = threading.Event()
        self._stopped = False

    @property
    def holder(self) -> str:
        return self.dialing.holder

    def check(self) -> None:
        """Raise :class:`TelephonyUnavailable`, saying what to install, when the chosen
        adapter cannot run here."""
        if self.settings.telephony == "sip" and (absent := missing_modules()):
            raise TelephonyUnavailable(
                f"CALLHOPPER_TELEPHONY=sip, but the SIP adapter is not installed (missing: "
                f"{', '.join(absent)}): {INSTALL_EXTRA}; or set CALLHOPPER_TELEPHONY=simulator. "
                "`callhopper telephony check` lists what else is missing."
            )

    async def telephony(self) -> tuple[Telephony, Callable[[int], AgentLine]]:
        """The adapter the settings choose, started, and how it reaches an agent."""
        self.check()
        if self.settings.telephony == "sip":
            sip = SipSettings()
            adapter = SipTelephony(sip.worker_config(), workers=sip.workers, launcher=self.launcher)
            try:
                await adapter.start()
            except (OSError, RuntimeError) as exc:
                await adapter.close()
                raise TelephonyUnavailable(f"the SIP workers did not start: {exc}") from exc
            return adapter, sip_line(self.dialing, sip.domain)
        params = SimulatorParams(person_share=self.settings.simulator_person_share)
        simulator = SimulatedTelephony(
            params, seed=uuid.uuid4().int % 2**31, speed=self.settings.simulator_speed
        )
        return simulator, default_line

    def run_forever(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        telephony, line_of = await self.telephony()
        self.engine = DialerEngine(
            self.dialing, telephony, line_of=line_of, lease_ttl_s=self.settings.dialer_lease_s
        )
        self._ready.set()
        if self._stopped:
            await telephony.close()
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
