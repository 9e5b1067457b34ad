"""The messages between the dialer's supervisor and its SIP worker processes.

One JSON object per line over a Unix stream socket (a path in the file system, so that a
worker in another network namespace reaches it too). The supervisor sends commands (``op``)
and the worker reports events (``ev``); both name calls by the engine's call id.

Commands::

    {"op": "originate", "call": id, "to": "+1415…", "caller_id": "+1212…",
     "ring_timeout_s": 25.0, "detect": false, "record": false}
    {"op": "bridge", "call": id, "agent": "sip:agent-7@callhopper.local"}
    {"op": "play", "call": id, "file": "/path/message.wav"}
    {"op": "hangup", "call": id}
    {"op": "shutdown"}

Events::

    {"ev": "hello", "worker": n, "pid": p}
    {"ev": "ringing", "call": id, "code": 180}
    {"ev": "answered", "call": id}                       # 200 OK, media up
    {"ev": "detected", "call": id, "result": "person" | "machine" | "unknown",
     "ms": 1830, "cause": "…"}                         # only for calls with "detect"
    {"ev": "bridged", "call": id, "ms": 41}               # agent answered, audio joined
    {"ev": "bridge_failed", "call": id, "code": 480}     # the agent's line did not answer
    {"ev": "unanswered", "call": id, "outcome": "busy" | "no_answer" | "failed",
     "code": 486}
    {"ev": "hungup", "call": id, "by": "contact" | "agent" | "engine" | "network",
     "code": 200}
    {"ev": "error", "call": id, "message": "…"}         # a command that could not be done
"""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, Any]


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message:
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"a message is a JSON object, not {line!r}")
    return message


class LineBuffer:
    """Splits a byte stream into lines (for the worker's non-blocking socket)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [line for line in lines if line.strip()]
