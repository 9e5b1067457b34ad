"""The recordings the SIP adapter ships, played where a campaign names them.

A campaign's abandon and machine messages are, for this adapter, WAV files by their path on
the machine the workers run on, or the name of a recording shipped here: the campaigns'
default abandon message, ``abandoned-call``, is ``sounds/abandoned-call.wav`` ("We are
sorry, all of our agents are busy. We will call you back. Goodbye.", 8 kHz 16-bit mono,
made once with espeak-ng and sox, see ``docs/telephony.md``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The folder of the shipped recordings, inside the installed package.
SOUNDS = Path(str(files("callhopper.telephony.sip"))) / "sounds"


def shipped() -> list[str]:
    """The names of the shipped recordings."""
    return sorted(p.stem for p in SOUNDS.glob("*.wav"))


def message_file(message: str) -> str:
    """The file the workers play for a campaign's ``message``: the shipped recording of
    that name, else ``message`` itself (a path)."""
    if "/" not in message and not message.endswith(".wav"):
        recording = SOUNDS / f"{message}.wav"
        if recording.is_file():
            return str(recording)
    return message
