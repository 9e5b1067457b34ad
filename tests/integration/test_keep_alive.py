"""`serve` keeps an idle HTTP connection open longer than its clients do.

Uvicorn's default closes an idle keep-alive connection after 5 s, before common clients
(aiohttp: 15 s) stop reusing it. Under load the client then sends its next request on a
connection the server is closing, and gets a reset instead of an answer: the open-loop
overload run of ``dispense_bench`` saw hundreds. ``serve`` now keeps idle connections for
``CALLHOPPER_KEEP_ALIVE_S`` (75 s by default).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhopper.cli import server_options
from callhopper.settings import Settings
from tests.e2e.server import LiveServer

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n"


def _answer(sock: socket.socket) -> bytes:
    """One response to /healthz (small: it arrives whole, or the peer closed: b'')."""
    received = b""
    while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            return received
        received += chunk
    return received


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # a loaded machine may take minutes to import and start the application
    live = LiveServer(
        f"sqlite:///{tmp_path / 'ka.db'}", tmp_path / "serve.log", start_timeout_s=300
    )
    try:
        live.start()  # a start that times out leaves its process behind: stopped below
        yield live
    finally:
        live.stop()


def test_an_idle_connection_outlasts_uvicorns_default(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(REQUEST)
        assert _answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6.5)  # past uvicorn's default of 5 s
        sock.sendall(REQUEST)
        assert _answer(sock).startswith(b"HTTP/1.1 200"), "the server closed the connection"


def test_the_setting_reaches_the_server() -> None:
    assert server_options(Settings(keep_alive_s=7))["timeout_keep_alive"] == 7
    # longer than aiohttp's 15 s and a proxy's usual 60 s
    assert server_options(Settings())["timeout_keep_alive"] > 60
    with pytest.raises(ValueError, match="keep_alive_s"):
        Settings(keep_alive_s=0)


def test_the_access_log_is_off_unless_asked_for() -> None:
    assert server_options(Settings())["access_log"] is False
    assert server_options(Settings(access_log=True))["access_log"] is True
