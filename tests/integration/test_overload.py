"""A real ``serve`` process past its capacity: every request is answered (200-range, 401 or
503 with ``Retry-After``), none is reset, the connections stay open for the next request,
the refusals leave no access-log line, and the process takes requests again at once.

The capacity is one agent request at a time with nobody waiting
(``CALLHOPPER_ADMISSION_LIMIT=1``, ``CALLHOPPER_ADMISSION_QUEUE=0``), and requests with a
wrong token, which hold their slot while a worker thread looks the token up: of many sent
at once, all but the first few find the slot taken.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LiveServer

CONNECTIONS = 40
REQUEST = (
    b"GET /api/v1/agent/campaigns HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer nope\r\n\r\n"
)


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response with a Content-Length: its status, headers and body; raises
    ConnectionError if the server closed or reset the connection instead."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        f"sqlite:///{tmp_path / 'overload.db'}",
        tmp_path / "serve.log",
        extra_env={"CALLHOPPER_ADMISSION_LIMIT": "1", "CALLHOPPER_ADMISSION_QUEUE": "0"},
        start_timeout_s=300,  # a loaded machine may take minutes to import the application
    )
    try:
        live.start()
        yield live
    finally:
        live.stop()


def _burst(sockets: list[socket.socket]) -> list[tuple[int, dict[str, str], bytes]]:
    for sock in sockets:
        sock.sendall(REQUEST)
    return [_answer(sock) for sock in sockets]


def test_a_server_past_capacity_refuses_with_retry_after_resets_nothing_and_recovers(
    server: LiveServer,
) -> None:
    sockets = [
        socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(CONNECTIONS)
    ]
    try:
        answers = _burst(sockets) + _burst(sockets)  # the same connections, kept alive
        statuses = [status for status, _, _ in answers]
        assert set(statuses) <= {401, 503}
        assert statuses.count(503) >= CONNECTIONS // 2, statuses
        for status, headers, body in answers:
            if status == 503:
                assert 1 <= int(headers["retry-after"]) <= 10  # the default cap
                assert b'"code":"overloaded"' in body and len(body) < 200
    finally:
        for sock in sockets:
            sock.close()
    # Recovered: one request at a time is served again, at once.
    with server.client() as client:
        for _ in range(3):
            answer = client.get("/api/v1/agent/campaigns", headers={"Authorization": "Bearer x"})
            assert answer.status_code == 401
    # No access-log line by default, for a refusal or anything else.
    assert "/api/v1/agent/campaigns" not in server.log_path.read_text()
