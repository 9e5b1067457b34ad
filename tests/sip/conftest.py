"""Fixtures of the SIP tests: a network namespace, SIPp, and the adapter inside it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callhopper.domain.calls import CallEvent, CallId, DialRequest, HungUp, Unanswered
from callhopper.telephony.sip.adapter import SipTelephony
from callhopper.telephony.sip.config import TrunkConfig, WorkerConfig
from tests.sip.harness import NetNamespace, namespace, require

CALLER_ID = "+12125550199"
CUSTOMER = "+14155550100"
#: The shortest ring timeout the port allows.
RING_TIMEOUT_S = 15.0


@pytest.fixture
def ns() -> Iterator[NetNamespace]:
    require()
    with namespace() as made:
        yield made


def trunk_config(port: int, **trunk: object) -> WorkerConfig:
    return WorkerConfig(trunk=TrunkConfig(host="127.0.0.1", port=port, **trunk))  # type: ignore[arg-type]


@asynccontextmanager
async def sip_telephony(
    ns: NetNamespace, config: WorkerConfig, workers: int = 1
) -> AsyncIterator[SipTelephony]:
    telephony = SipTelephony(config, workers=workers, launcher=ns.prefix)
    await telephony.start()
    try:
        yield telephony
    finally:
        await telephony.close()


@dataclass
class Timeline:
    """The events of calls as they arrived, with seconds since the first originate."""

    t0: float = field(default_factory=time.monotonic)
    events: list[tuple[float, CallEvent]] = field(default_factory=list)

    def of(self, call_id: str) -> list[CallEvent]:
        return [e for _, e in self.events if e.call_id == call_id]

    def at(self, call_id: str, kind: type) -> float:
        return next(t for t, e in self.events if e.call_id == call_id and isinstance(e, kind))

    def ended(self, call_id: str) -> bool:
        return any(isinstance(e, Unanswered | HungUp) for e in self.of(call_id))


async def collect(telephony: SipTelephony, timeline: Timeline) -> None:
    """Append every event of ``telephony`` to ``timeline`` until the adapter closes."""
    async for event in telephony.events():
        timeline.events.append((time.monotonic() - timeline.t0, event))


async def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the expected call events did not arrive")
        await asyncio.sleep(0.02)


def dial(call_id: str, number: str = CUSTOMER, caller_id: str = CALLER_ID) -> DialRequest:
    return DialRequest(CallId(call_id), number, caller_id, RING_TIMEOUT_S)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
