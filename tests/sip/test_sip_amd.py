"""Answering-machine detection: the rules on made-up voice activity, the beep detector on
tones and speech, a small generated set, and the detector inside a worker against SIPp."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import wave
from array import array
from pathlib import Path

import pytest

from bench.amd_set import generate
from callhopper.domain.calls import Answered, CallId, CallOutcome
from callhopper.telephony.sip import amd
from callhopper.telephony.sip.config import DetectorConfig, WorkerConfig
from tests.sip.conftest import Timeline, collect, dial, sip_telephony, trunk_config, wait_for
from tests.sip.harness import NetNamespace, Sipp, require

CONFIG = DetectorConfig(enabled=True)
SILENT = bytes(amd.FRAME_BYTES)


def decide(pattern: str, config: DetectorConfig = CONFIG) -> amd.Decision | None:
    """Feed frames from a pattern: one character per 20 ms, ``#`` speech, ``.`` silence."""
    detector = amd.MachineDetector(config, lambda frame: frame != SILENT)
    speech = b"\x01" * amd.FRAME_BYTES
    for ch in pattern:
        decision = detector.feed(speech if ch == "#" else SILENT)
        if decision is not None:
            return decision
    return None


def frames(ms: int, ch: str) -> str:
    return ch * (ms // amd.FRAME_MS)


def test_a_short_hello_then_silence_is_a_person() -> None:
    decision = decide(frames(400, ".") + frames(600, "#") + frames(1000, "."))
    assert decision is not None
    assert decision.verdict is amd.Verdict.PERSON
    assert decision.cause.startswith("HUMAN")
    assert decision.after_ms == 400 + 600 + CONFIG.after_greeting_silence_ms


def test_a_long_greeting_is_a_machine() -> None:
    greeting = (frames(900, "#") + frames(200, ".")) * 8
    decision = decide(greeting)
    assert decision is not None and decision.verdict is amd.Verdict.MACHINE
    assert decision.cause == f"LONGGREETING-{CONFIG.greeting_ms}"


def test_many_words_are_a_machine() -> None:
    words = (frames(200, "#") + frames(100, ".")) * 10
    decision = decide(words)
    assert decision is not None and decision.cause == f"MAXWORDS-{CONFIG.maximum_words}"


def test_silence_from_the_start_is_a_machine_and_doubt_is_unknown() -> None:
    decision = decide(frames(3000, "."))
    assert decision is not None and decision.cause == "INITIALSILENCE-2500"
    # Speech with pauses shorter than the after-greeting silence, never long enough for a
    # greeting, until the analysis time runs out.
    config = DetectorConfig(enabled=True, maximum_words=99, greeting_ms=99_000)
    undecided = decide((frames(300, "#") + frames(400, ".")) * 20, config)
    assert undecided is not None and undecided.verdict is amd.Verdict.UNKNOWN
    assert undecided.after_ms == config.total_analysis_ms


def tone(hz: float, ms: int, amplitude: int = 10000) -> bytes:
    n = 8 * ms
    return array(
        "h", (int(amplitude * math.sin(2 * math.pi * hz * i / 8000)) for i in range(n))
    ).tobytes()


def beeps(pcm: bytes) -> bool:
    detector = amd.BeepDetector()
    return any(
        detector.feed(pcm[i : i + amd.FRAME_BYTES])
        for i in range(0, len(pcm) - amd.FRAME_BYTES + 1, amd.FRAME_BYTES)
    )


def test_the_beep_detector_hears_tones_not_vowels() -> None:
    assert beeps(tone(1000, 500))
    assert beeps(tone(440, 400))
    assert not beeps(tone(1000, 120))  # a click, not a beep
    assert not beeps(tone(1000, 500, amplitude=200))  # too quiet
    # A held vowel: a fundamental with its harmonics.
    vowel = array(
        "h",
        (
            int(sum(3000 / k * math.sin(2 * math.pi * 150 * k * i / 8000) for k in range(1, 12)))
            for i in range(8000)
        ),
    ).tobytes()
    assert not beeps(vowel)


@pytest.mark.slow
def test_the_detector_on_a_generated_set(tmp_path: Path) -> None:
    """A few recordings of each kind (the benchmark runs the full set): short answers are
    people, greetings with a beep are machines, and nobody who just says hello is taken for
    a machine."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        require("espeak-ng", "sox")
    verdicts: dict[str, list[str]] = {}
    for rec in generate(tmp_path, per_kind=4, seed=7):
        pcm = _pcm(rec.path)
        verdicts.setdefault(rec.kind, []).append(
            amd.classify(pcm, CONFIG, amd.webrtc_vad(CONFIG.vad_mode)).verdict
        )
    assert verdicts["person-short"] == [amd.Verdict.PERSON] * 4
    assert verdicts["person-noise"] == [amd.Verdict.PERSON] * 4
    assert verdicts["machine-beep"] == [amd.Verdict.MACHINE] * 4
    assert verdicts["machine-greeting"].count(amd.Verdict.MACHINE) >= 2


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


@pytest.mark.slow
def test_a_worker_tells_a_person_from_a_machine(ns: NetNamespace, tmp_path: Path) -> None:
    """SIPp answers twice: once as a person ("Hello?"), once as a voicemail greeting with a
    beep. With detection on, the answers are reported as a person and as a machine."""
    require("espeak-ng", "sox")
    recordings = {r.kind: r for r in generate(tmp_path / "set", per_kind=1, seed=3)}
    sipps = {}
    for i, kind in enumerate(("person-short", "machine-beep")):
        workdir = tmp_path / kind
        workdir.mkdir()
        subprocess.run(
            ["sox", str(recordings[kind].path), "-e", "mu-law", str(workdir / "customer.wav")],
            check=True,
        )
        # The recordings start at the answer, with their own pick-up delay.
        sipps[kind] = Sipp(
            ns,
            "talk",
            workdir,
            port=5090 + i,
            media_port=16000 + 100 * i,
            variables={"speak_after": "0"},
        )
    timeline = Timeline()

    async def scenario() -> None:
        configs = {
            kind: WorkerConfig(
                trunk=trunk_config(sipp.port).trunk, detector=DetectorConfig(enabled=True)
            )
            for kind, sipp in sipps.items()
        }
        async with (
            sip_telephony(ns, configs["person-short"]) as person,
            sip_telephony(ns, configs["machine-beep"]) as machine,
        ):
            collectors = [
                asyncio.create_task(collect(person, timeline)),
                asyncio.create_task(collect(machine, timeline)),
            ]
            await person.originate(dial("p1"))
            await machine.originate(dial("m1"))
            await wait_for(
                lambda: all(
                    any(isinstance(e, Answered) for e in timeline.of(c)) for c in ("p1", "m1")
                ),
                20,
            )
            await person.hang_up(CallId("p1"))
            await machine.hang_up(CallId("m1"))
            await wait_for(lambda: timeline.ended("p1") and timeline.ended("m1"))
        for collector in collectors:
            await collector

    asyncio.run(scenario())
    for sipp in sipps.values():
        sipp.stop()
    (p1,) = [e for e in timeline.of("p1") if isinstance(e, Answered)]
    (m1,) = [e for e in timeline.of("m1") if isinstance(e, Answered)]
    assert p1.by is CallOutcome.PERSON
    assert m1.by is CallOutcome.MACHINE
