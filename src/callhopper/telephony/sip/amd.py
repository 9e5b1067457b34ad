"""Answering-machine detection on the first seconds of an answered call.

The rules follow Asterisk's ``AMD()`` application, whose parameters operators already know
how to tune (``amd.conf``); the names are the same, in milliseconds, and the defaults are in
:class:`~callhopper.telephony.sip.config.DetectorConfig`:

* ``initial_silence_ms``: silence before the first word longer than this is a machine
  (``INITIALSILENCE``): people say something when they pick up.
* ``greeting_ms``: this much speech in all before a pause is a machine's greeting
  (``LONGGREETING``); people answer "Hello?" and wait.
* ``after_greeting_silence_ms``: silence this long after the first words is a person
  (``HUMAN``): they are waiting for the caller.
* ``maximum_words``: this many words before that silence is a machine (``MAXWORDS``);
  ``maximum_word_length_ms``: one word this long is a machine (``MAXWORDLENGTH``).
* ``min_word_ms`` and ``between_words_silence_ms``: speech shorter than ``min_word_ms`` is
  not a word; silence shorter than ``between_words_silence_ms`` does not end one.
* ``total_analysis_ms``: no decision by then is ``unknown`` (``NOTSURE``); the engine treats
  an unknown as a person, so that nobody is hung up on for the detector's doubt.

Asterisk decides speech by an energy threshold; here each 20 ms frame is classified by
WebRTC's voice-activity detector (``webrtcvad``, aggressiveness ``vad_mode``), which
ignores steady background noise that an energy threshold takes for a voice. A beep (a pure
tone, see :class:`BeepDetector`) is a machine at once (``BEEP``), whatever was heard before.

:class:`BeepDetector` finds the tone after a voicemail greeting, after which a message can
be left. The detector itself is pure (frames in, a decision out); the voice-activity
classifier is passed in, so that tests and the benchmark run it on recordings.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from callhopper.telephony.sip.config import DetectorConfig

#: Audio the detector reads: 16-bit signed mono PCM at 8 kHz, in frames of 20 ms.
SAMPLE_RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000 * 2

IsSpeech = Callable[[bytes], bool]


class Verdict(StrEnum):
    PERSON = "person"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    #: Milliseconds of audio analysed when the decision was taken.
    after_ms: int
    #: Asterisk's name for the rule that decided (``AMDCAUSE``).
    cause: str


class MachineDetector:
    """Decides person / machine / unknown from 20 ms frames of the answered call's audio,
    with Asterisk's ``AMD()`` rules (a word is a run of speech frames; the greeting is all
    the speech heard so far), plus a beep: a tone is always a machine."""

    def __init__(self, config: DetectorConfig, is_speech: IsSpeech) -> None:
        self.config = config
        self._is_speech = is_speech
        self._beep = BeepDetector()
        self._elapsed_ms = 0
        self._voice_ms = 0  # all speech so far (Asterisk's voiceDuration)
        self._word_ms = 0  # the current run of speech (consecutiveVoiceDuration)
        self._silence_ms = 0
        self._words = 0
        self._in_word = False
        self._in_greeting = False
        self.decision: Decision | None = None

    @property
    def elapsed_ms(self) -> int:
        return self._elapsed_ms

    def feed(self, frame: bytes) -> Decision | None:
        """Take one frame; return the decision when it is taken (once), else None."""
        if self.decision is not None:
            return None
        c = self.config
        self._elapsed_ms += FRAME_MS
        if self._beep.feed(frame):
            return self._decide(Verdict.MACHINE, "BEEP")
        if self._is_speech(frame):
            self._silence_ms = 0
            self._voice_ms += FRAME_MS
            self._word_ms += FRAME_MS
            self._in_greeting = True
            if self._word_ms >= c.min_word_ms and not self._in_word:
                self._in_word = True
                self._words += 1
                if self._words >= c.maximum_words:
                    return self._decide(Verdict.MACHINE, f"MAXWORDS-{self._words}")
            if self._word_ms >= c.maximum_word_length_ms:
                return self._decide(Verdict.MACHINE, f"MAXWORDLENGTH-{self._word_ms}")
            if self._voice_ms >= c.greeting_ms:
                return self._decide(Verdict.MACHINE, f"LONGGREETING-{self._voice_ms}")
        else:
            self._silence_ms += FRAME_MS
            if self._silence_ms >= c.between_words_silence_ms:
                self._in_word = False
                self._word_ms = 0
            if not self._in_greeting and self._silence_ms >= c.initial_silence_ms:
                return self._decide(Verdict.MACHINE, f"INITIALSILENCE-{self._silence_ms}")
            if self._in_greeting and self._silence_ms >= c.after_greeting_silence_ms:
                return self._decide(Verdict.PERSON, f"HUMAN-{self._silence_ms}")
        if self._elapsed_ms >= c.total_analysis_ms:
            return self._decide(Verdict.UNKNOWN, f"TOOLONG-{self._elapsed_ms}")
        return None

    def _decide(self, verdict: Verdict, cause: str) -> Decision:
        self.decision = Decision(verdict, self._elapsed_ms, cause)
        return self.decision


def classify(pcm: bytes, config: DetectorConfig, is_speech: IsSpeech) -> Decision:
    """Run the detector over a whole recording (8 kHz 16-bit mono); unknown if it ends first."""
    detector = MachineDetector(config, is_speech)
    for start in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        decision = detector.feed(pcm[start : start + FRAME_BYTES])
        if decision is not None:
            return decision
    return Decision(Verdict.UNKNOWN, detector.elapsed_ms, "ENDED")


def webrtc_vad(mode: int) -> IsSpeech:
    """WebRTC's voice-activity detector on 8 kHz frames (needs the ``sip`` extra)."""
    # An optional dependency (the ``sip`` extra), imported only where it is used.
    import webrtcvad

    vad = webrtcvad.Vad(mode)

    def is_speech(frame: bytes) -> bool:
        return bool(vad.is_speech(frame, SAMPLE_RATE_HZ))

    return is_speech


class BeepDetector:
    """Finds a voicemail beep: a pure tone between 400 and 2500 Hz, loud enough, lasting at
    least ``min_ms``. Each frame's frequency is estimated from its zero crossings and its
    purity measured with the Goertzel filter at that frequency: a tone puts nearly all its
    energy there, a held vowel (even a synthetic voice's) spreads it over its harmonics."""

    def __init__(self, min_ms: int = 240, min_rms: float = 500.0, purity: float = 0.8) -> None:
        self._min_frames = max(1, min_ms // FRAME_MS)
        self._min_rms = min_rms
        self._purity = purity
        self._run = 0
        self._last_hz = 0.0

    def feed(self, frame: bytes) -> bool:
        """Take one frame; True once a beep has just been heard."""
        samples = array("h", frame)
        n = len(samples)
        energy = sum(s * s for s in samples)
        if n == 0 or math.sqrt(energy / n) < self._min_rms:
            self._run = 0
            return False
        crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
        hz = crossings * SAMPLE_RATE_HZ / n / 2
        if not 400 <= hz <= 2500 or abs(hz - self._last_hz) > 60:
            self._last_hz = hz
            self._run = 0
            return False
        self._last_hz = hz
        # Zero crossings place the tone within about 25 Hz: the purest of three neighbours.
        if max(_tone_share(samples, f, energy) for f in (hz - 25, hz, hz + 25)) < self._purity:
            self._run = 0
            return False
        self._run += 1
        return self._run >= self._min_frames


def _tone_share(samples: array[int], hz: float, energy: int) -> float:
    """The share of a frame's energy at ``hz`` (Goertzel's filter); 1.0 for a pure tone."""
    coeff = 2 * math.cos(2 * math.pi * hz / SAMPLE_RATE_HZ)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * power / (len(samples) * energy)
