"""The worker's waker: a thread that ends the main loop's poll of PJSIP when a command
arrives, so that the poll may be long without delaying commands (see
:mod:`callhopper.telephony.sip.worker`)."""

from __future__ import annotations

import select
import socket
import threading

#: A SIP keep-alive (RFC 5626: a CRLF pair), which PJSIP reads and ignores: sent to the
#: worker's own UDP port, it ends a poll of PJSIP.
KEEPALIVE = b"\r\n\r\n"


class Waker:
    """Ends the main loop's poll of PJSIP as soon as the supervisor's socket has a command,
    so that the poll may be long (the worker's ``POLL_MS``) without delaying commands.

    Its thread only watches the socket and sends :data:`KEEPALIVE` to the worker's own SIP
    port: it never calls PJSUA2 (which only the main thread may). After each wake it waits
    until the main loop has read the socket (:meth:`drained`)."""

    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self.sock = sock
        self.address = address
        self._read = threading.Event()
        self._read.set()
        self._stopped = False
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._thread = threading.Thread(target=self._run, name="sip-waker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            self._read.wait()
            try:
                readable, _, _ = select.select([self.sock], [], [], 0.5)
            except (OSError, ValueError):  # the socket is closed: the worker is ending
                return
            if readable and not self._stopped:
                self._read.clear()
                self._udp.sendto(KEEPALIVE, self.address)

    def drained(self) -> None:
        """The main loop has read what the socket held."""
        self._read.set()

    def stop(self) -> None:
        self._stopped = True
        self._read.set()
        self._thread.join(1)
        self._udp.close()
