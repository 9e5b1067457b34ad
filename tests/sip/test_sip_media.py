"""Audio and resilience of the SIP adapter: the abandon message reaches the customer intact,
and a worker that dies loses only its own calls, which are reported and never redialled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from callhopper.domain.calls import (
    Answered,
    CallId,
    CallOutcome,
    HungUp,
    Party,
    Ringing,
    Unanswered,
)
from callhopper.domain.campaigns import CampaignSettings
from callhopper.telephony.sip.config import WorkerConfig
from callhopper.telephony.sip.sounds import SOUNDS, message_file
from tests.sip.audio import INTACT, read_wav, rtp_audio, similarity, speak
from tests.sip.conftest import Timeline, collect, dial, sip_telephony, trunk_config, wait_for
from tests.sip.harness import SPEAK_AFTER, Capture, NetNamespace, Sipp, require

pytestmark = pytest.mark.slow

MESSAGE = "We are sorry, all of our agents are busy. We will call you back later. Goodbye."


@pytest.mark.parametrize("given", ["a file", "the default"])
def test_abandon_message_reaches_the_customer_as_rtp_matching_the_source(
    ns: NetNamespace, workdir: Path, given: str
) -> None:
    """A campaign's own recording, or (without one) the campaigns' default abandon message,
    which names the recording the adapter ships: either plays to the customer intact."""
    require("dumpcap", "espeak-ng", "sox")
    if given == "a file":
        message = speak(MESSAGE, workdir / "abandon.wav")
        name = str(message)
    else:
        name = CampaignSettings().abandon_message
        message = Path(message_file(name))
        assert message.is_file() and message.parent == SOUNDS
    sipp = Sipp(ns, "answer", workdir, port=5090, media_port=16000)
    capture = Capture(ns, workdir / "rtp.pcap", 16000)
    timeline = Timeline()
    recordings = workdir / "recordings"
    recordings.mkdir()
    config = WorkerConfig(trunk=trunk_config(5090).trunk, recordings_dir=str(recordings))

    async def scenario() -> None:
        async with sip_telephony(ns, config) as telephony:
            collector = asyncio.create_task(collect(telephony, timeline))
            await telephony.originate(dial("a1"), record=True)
            await wait_for(lambda: any(isinstance(e, Answered) for e in timeline.of("a1")))
            await telephony.play_and_hang_up(CallId("a1"), name)
            await wait_for(lambda: timeline.ended("a1"), 20)
        await collector

    asyncio.run(scenario())
    capture.stop()
    sipp.stop()
    hung_up = timeline.of("a1")[-1]
    assert isinstance(hung_up, HungUp) and hung_up.by is Party.ENGINE
    source = read_wav(message)
    played_s = timeline.at("a1", HungUp) - timeline.at("a1", Answered)
    assert len(source) / 8000 <= played_s < len(source) / 8000 + 1.0
    received = rtp_audio(capture.path, 16000)
    assert len(received) >= len(source)
    assert similarity(source, received) > 0.95  # a player, no jitter buffer: all intact
    # The call asked for a recording: the message is in it, from the player itself.
    assert similarity(source, read_wav(recordings / "a1.wav")) > 0.95


def test_a_message_that_cannot_be_played_still_ends_the_call(
    ns: NetNamespace, workdir: Path
) -> None:
    """The campaign names a recording the workers cannot open: the call is hung up by us
    at once (the error is logged), never left on a silent line."""
    sipp = Sipp(ns, "answer", workdir, port=5090, media_port=16000)
    timeline = Timeline()

    async def scenario() -> None:
        async with sip_telephony(ns, trunk_config(5090)) as telephony:
            collector = asyncio.create_task(collect(telephony, timeline))
            await telephony.originate(dial("m1"))
            await wait_for(lambda: any(isinstance(e, Answered) for e in timeline.of("m1")))
            await telephony.play_and_hang_up(CallId("m1"), str(workdir / "no-such.wav"))
            await wait_for(lambda: timeline.ended("m1"), 10)
        await collector

    asyncio.run(scenario())
    sipp.stop()
    assert [type(e).__name__ for e in timeline.of("m1")] == ["Ringing", "Answered", "HungUp"]
    hung_up = timeline.of("m1")[-1]
    assert isinstance(hung_up, HungUp) and hung_up.by is Party.ENGINE
    assert timeline.at("m1", HungUp) - timeline.at("m1", Answered) < 2.0


def test_a_dead_worker_loses_only_its_calls_reported_once_and_is_replaced(
    ns: NetNamespace, workdir: Path
) -> None:
    """Two workers, two calls each placed on its own worker and answered; one worker is
    killed: its call ends as lost (HungUp by the network, never answered again), the other
    call goes on, a new worker takes the dead one's place and carries a new call, and SIPp
    received exactly one INVITE per call placed."""
    sipp = Sipp(ns, "answer", workdir, port=5090, media_port=16000, delay_ms=0)
    ringing = Sipp(ns, "noanswer", workdir, port=5091, media_port=16100)
    timeline = Timeline()
    details: dict[str, object] = {}

    async def scenario() -> None:
        async with (
            sip_telephony(ns, trunk_config(5090), workers=2) as telephony,
            sip_telephony(ns, trunk_config(5091), workers=1) as ringer,
        ):
            collectors = [
                asyncio.create_task(collect(telephony, timeline)),
                asyncio.create_task(collect(ringer, timeline)),
            ]
            await telephony.originate(dial("k1"))
            await telephony.originate(dial("k2"))
            await ringer.originate(dial("r1"))
            await wait_for(
                lambda: (
                    all(any(isinstance(e, Answered) for e in timeline.of(c)) for c in ("k1", "k2"))
                    and timeline.of("r1")
                )
            )
            victim = telephony._calls["k1"].worker
            survivor = telephony._calls["k2"].worker
            assert victim is not survivor
            details["old_pid"] = victim.pid
            killed_at = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)
            ringer_worker = ringer._calls["r1"].worker
            os.kill(ringer_worker.pid, signal.SIGKILL)
            await wait_for(lambda: timeline.ended("k1") and timeline.ended("r1"), 10)
            details["noticed_s"] = time.monotonic() - killed_at
            await wait_for(
                lambda: (
                    telephony.pool.workers[victim.number] is not victim
                    and telephony.pool.workers[victim.number].writer is not None
                ),
                20,
            )
            details["new_pid"] = telephony.pool.workers[victim.number].pid
            assert not timeline.ended("k2")
            # The replacement takes calls: with k2 on the survivor, k3 goes to the new one.
            await telephony.originate(dial("k3"))
            details["k3_worker"] = telephony._calls["k3"].worker.number
            await wait_for(lambda: any(isinstance(e, Answered) for e in timeline.of("k3")))
            await telephony.hang_up(CallId("k2"))
            await telephony.hang_up(CallId("k3"))
            await wait_for(lambda: timeline.ended("k2") and timeline.ended("k3"))
            details["restarts"] = telephony.pool.restarts
        for collector in collectors:
            await collector

    asyncio.run(scenario())
    sipp.stop()
    ringing.stop()
    k1 = timeline.of("k1")
    assert [type(e) for e in k1] == [Ringing, Answered, HungUp]
    assert isinstance(k1[-1], HungUp) and k1[-1].by is Party.NETWORK
    r1 = timeline.of("r1")[-1]
    assert isinstance(r1, Unanswered)
    assert (r1.outcome, r1.code) == (CallOutcome.FAILED, "worker-lost")
    assert details["noticed_s"] < 2.0  # type: ignore[operator]
    assert details["new_pid"] != details["old_pid"]
    assert details["restarts"] == 1
    k2 = timeline.of("k2")[-1]
    assert isinstance(k2, HungUp) and k2.by is Party.ENGINE
    # One INVITE per call placed: nothing was dialled again after the crash.
    assert len(sipp.invites()) == 3
    assert len(ringing.invites()) == 1


def test_a_call_is_recorded_only_when_it_asks(ns: NetNamespace, workdir: Path) -> None:
    """Two calls to a customer who speaks; the one placed with ``record`` leaves a WAV with
    the customer's words, the other leaves nothing. (The abandon message test checks that a
    message played to a recorded call is in its recording.)"""
    require("espeak-ng", "sox")
    customer = speak("Hello, who is calling please?", workdir / "customer-pcm.wav")
    subprocess.run(
        ["sox", str(customer), "-e", "mu-law", str(workdir / "customer.wav")], check=True
    )
    recordings = workdir / "recordings"
    recordings.mkdir()
    sipp = Sipp(ns, "talk", workdir, port=5090, media_port=16000, variables=SPEAK_AFTER)
    timeline = Timeline()
    config = WorkerConfig(trunk=trunk_config(5090).trunk, recordings_dir=str(recordings))
    speech_s = len(read_wav(customer)) / 8000

    async def scenario() -> None:
        async with sip_telephony(ns, config) as telephony:
            collector = asyncio.create_task(collect(telephony, timeline))
            await telephony.originate(dial("rec"), record=True)
            await telephony.originate(dial("norec"))
            await wait_for(
                lambda: all(
                    any(isinstance(e, Answered) for e in timeline.of(c)) for c in ("rec", "norec")
                )
            )
            # The customer speaks two seconds in, and again and again.
            await asyncio.sleep(2.0 + 2 * speech_s + 0.3)
            for call in ("rec", "norec"):
                await telephony.hang_up(CallId(call))
            await wait_for(lambda: timeline.ended("rec") and timeline.ended("norec"), 20)
        await collector

    asyncio.run(scenario())
    sipp.stop()
    assert [p.name for p in recordings.iterdir()] == ["rec.wav"]
    # The customer's words come through the worker's jitter buffer.
    assert similarity(read_wav(customer), read_wav(recordings / "rec.wav")) > INTACT
