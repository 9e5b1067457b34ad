"""A labelled set of recordings for answering-machine detection, made with espeak-ng.

What a dialer hears in the first seconds after an answer, in the kinds that matter:

* ``person-short``: a person picks up and says a short hello, then waits.
* ``person-noise``: the same, over street or office noise.
* ``person-long``: a person who talks on ("Hello, yes, this is Mary, who is calling …")
  before waiting: the hard case, which detectors take for a machine.
* ``machine-greeting``: a voicemail greeting, no beep before the cut.
* ``machine-beep``: a shorter greeting ending with the tone.
* ``machine-noise``: a greeting over noise.

Each recording is 8 kHz 16-bit mono, as the detector hears it, starting at the answer
(with the pick-up delay a real phone has), and runs eight seconds. Voices, speeds, pitches,
delays and noise levels are drawn from a seeded generator, so a set is the same on every
machine with the same espeak-ng.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import tempfile
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

RATE = 8000
LENGTH_S = 8.0

VOICES = ["en-us", "en-gb", "en-us+f2", "en-gb+f3", "en-us+m3", "en-029", "en-gb-scotland", "en+f4"]
HELLOS = [
    "Hello?",
    "Hello.",
    "Yes?",
    "Hi.",
    "Hello, who is this?",
    "Yeah, hello?",
    "Good morning.",
    "Hello, Mary speaking.",
    "Smith residence.",
    "Hi there.",
]
LONG_TALKERS = [
    "Hello, yes, this is Mary, who is calling please?",
    "Hi, this is John, I was just about to go out, what is this about?",
    "Hello? Hello? I can't hear you very well, can you speak up please?",
    "Yes hello, Peter Smith here, is this about the delivery today?",
]
GREETINGS = [
    "Hi, you have reached the voicemail of Mary Johnson. I am not available right now. "
    "Please leave your name and number and I will call you back.",
    "The person you are calling is not available. Please leave a message after the tone.",
    "Hello, you've reached John and Sarah. We can't come to the phone right now, "
    "so leave us a message and we'll get back to you as soon as we can.",
    "Thank you for calling Acme Plumbing. Our office is closed. Our hours are eight to five, "
    "Monday to Friday. Please leave a message.",
    "Hi, it's Dave. Leave a message.",
]


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    #: ``person`` or ``machine``.
    label: str
    kind: str
    path: Path


def _speak(text: str, voice: str, speed: int, pitch: int, scratch: Path) -> array[int]:
    raw = scratch / "speech.wav"
    resampled = scratch / "speech8k.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
        check=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(resampled)], check=True
    )
    with wave.open(str(resampled)) as w:
        return array("h", w.readframes(w.getnframes()))


def _silence(seconds: float) -> array[int]:
    return array("h", bytes(2 * int(seconds * RATE)))


def _beep(seconds: float, hz: float) -> array[int]:
    return array(
        "h",
        (int(12000 * math.sin(2 * math.pi * hz * i / RATE)) for i in range(int(seconds * RATE))),
    )


def _add_noise(samples: array[int], rng: random.Random, rms: float) -> array[int]:
    # Brown-ish noise (integrated white noise, leaking): the rumble of a street or an office.
    level = 0.0
    noisy = array("h")
    for s in samples:
        level = 0.98 * level + rng.gauss(0, rms * 0.2)
        noisy.append(max(-32768, min(32767, int(s + level))))
    return noisy


def _fit(samples: array[int]) -> array[int]:
    n = int(LENGTH_S * RATE)
    return samples[:n] + _silence(max(0, n - len(samples)) / RATE)


def generate(out: Path, per_kind: int = 30, seed: int = 1) -> list[Recording]:
    """Write ``per_kind`` recordings of each kind into ``out`` and return them, labelled."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    recordings: list[Recording] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)

        def voice() -> tuple[str, int, int]:
            return rng.choice(VOICES), rng.randint(140, 200), rng.randint(30, 70)

        for kind in (
            "person-short",
            "person-noise",
            "person-long",
            "machine-greeting",
            "machine-beep",
            "machine-noise",
        ):
            for i in range(per_kind):
                pick_up = rng.uniform(0.2, 1.2)
                if kind.startswith("person"):
                    text = rng.choice(LONG_TALKERS if kind == "person-long" else HELLOS)
                    audio = _silence(pick_up) + _speak(text, *voice(), scratch)
                    label = "person"
                else:
                    text = rng.choice(GREETINGS)
                    audio = _silence(pick_up / 3) + _speak(text, *voice(), scratch)
                    if kind == "machine-beep":
                        audio = audio[: int(rng.uniform(2.5, 4.0) * RATE)]
                        audio += _silence(0.3) + _beep(0.5, rng.choice([850.0, 1000.0, 1400.0]))
                    label = "machine"
                audio = _fit(audio)
                if kind.endswith("noise"):
                    audio = _add_noise(audio, rng, rng.uniform(300, 900))
                name = f"{kind}-{i:03d}"
                path = out / f"{name}.wav"
                with wave.open(str(path), "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(RATE)
                    w.writeframes(audio.tobytes())
                recordings.append(Recording(name, label, kind, path))
    return recordings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for r in generate(args.out, args.per_kind, args.seed):
        print(f"{r.label}\t{r.kind}\t{r.path}")


if __name__ == "__main__":
    main()
