"""The SIP worker's waker: a command on the supervisor's socket ends PJSIP's poll at once
(a SIP keep-alive to the worker's own port), once per read of the socket."""

from __future__ import annotations

import socket

import pytest

from callhopper.telephony.sip.waker import KEEPALIVE, Waker


def test_a_command_sends_one_keepalive_until_the_socket_is_read() -> None:
    supervisor, worker_end = socket.socketpair()
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.settimeout(2)
    waker = Waker(worker_end, sip.getsockname())
    try:
        supervisor.sendall(b'{"op": "hangup"}\n')
        assert sip.recv(64) == KEEPALIVE
        # Unread, the command wakes nobody again: the main loop is already awake.
        sip.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sip.recv(64)
        worker_end.recv(4096)
        waker.drained()
        supervisor.sendall(b'{"op": "hangup"}\n')
        sip.settimeout(2)
        assert sip.recv(64) == KEEPALIVE
    finally:
        worker_end.recv(4096)
        waker.drained()
        waker.stop()
        for s in (supervisor, worker_end, sip):
            s.close()
