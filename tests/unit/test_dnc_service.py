"""The HTTP validation-service adapter against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from callhopper.dnc_service import HttpNumberValidator, NoValidator, make_validator
from callhopper.domain.predial import Verdict
from callhopper.ports.validation import NumberValidator

A, B, C = "+16025550100", "+16025550101", "+16025550102"
TIMEOUT_S = 1.0  # generous: a loaded CI machine must still answer /ok in time


class Service(ThreadingHTTPServer):
    """A fake validation service; each path behaves differently."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str | None, Any]] = []
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Service

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append((self.path, self.headers.get("Content-Type"), body))
        try:
            self._answer(body["numbers"])
        except OSError:
            pass  # the client gave up first (timeouts): nothing to do

    def _answer(self, numbers: list[str]) -> None:
        if self.path == "/ok":
            self._send(200, json.dumps({"results": {n: _verdict(n) for n in numbers}}).encode())
        elif self.path == "/partial":
            self._send(200, json.dumps({"results": {A: "dnc", B: "maybe"}}).encode())
        elif self.path == "/slow":
            self.server.stop.wait(10 * TIMEOUT_S)
            self._send(200, json.dumps({"results": dict.fromkeys(numbers, "allowed")}).encode())
        elif self.path == "/trickle":
            payload = json.dumps({"results": dict.fromkeys(numbers, "allowed")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for byte in payload:  # every byte well within the read timeout, the whole not
                if self.server.stop.wait(TIMEOUT_S / 4):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif self.path == "/error":
            self._send(500, b'{"error": "down"}')
        elif self.path == "/not-json":
            self._send(200, b"<html>maintenance</html>")
        elif self.path == "/no-results":
            self._send(200, b'{"verdicts": {}}')
        elif self.path == "/list-results":
            self._send(200, b'{"results": ["allowed"]}')
        else:
            self._send(404, b"{}")

    def _send(self, code: int, payload: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _verdict(number: str) -> str:
    return "dnc" if number == B else "allowed"


@pytest.fixture
def service() -> Iterator[Service]:
    server = Service()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def validator_for(service: Service) -> Iterator[Any]:
    made: list[HttpNumberValidator] = []

    def make(path: str) -> HttpNumberValidator:
        validator = HttpNumberValidator(service.url + path, TIMEOUT_S)
        made.append(validator)
        return validator

    yield make
    for validator in made:
        validator.close()


def test_normal_answer(service: Service, validator_for: Any) -> None:
    result = validator_for("/ok").check([A, B, C, A])
    assert result == {A: Verdict.ALLOWED, B: Verdict.DNC, C: Verdict.ALLOWED}
    assert service.requests == [("/ok", "application/json", {"numbers": [A, B, C]})]


def test_a_server_slower_than_the_timeout_is_unavailable(validator_for: Any) -> None:
    started = time.monotonic()
    result = validator_for("/slow").check([A, B])
    assert result == {A: Verdict.UNAVAILABLE, B: Verdict.UNAVAILABLE}
    assert time.monotonic() - started < 5 * TIMEOUT_S


def test_an_answer_trickling_past_the_timeout_is_unavailable(validator_for: Any) -> None:
    started = time.monotonic()
    assert validator_for("/trickle").check([A]) == {A: Verdict.UNAVAILABLE}
    assert time.monotonic() - started < 5 * TIMEOUT_S


@pytest.mark.parametrize(
    "path", ["/error", "/missing", "/not-json", "/no-results", "/list-results"]
)
def test_errors_and_malformed_answers_are_unavailable(validator_for: Any, path: str) -> None:
    assert validator_for(path).check([A, B]) == {A: Verdict.UNAVAILABLE, B: Verdict.UNAVAILABLE}


def test_numbers_missing_or_unreadable_in_the_answer_are_unavailable(validator_for: Any) -> None:
    assert validator_for("/partial").check([A, B, C]) == {
        A: Verdict.DNC,
        B: Verdict.UNAVAILABLE,
        C: Verdict.UNAVAILABLE,
    }


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HttpNumberValidator(f"http://127.0.0.1:{port}/check", TIMEOUT_S) as validator:
        assert validator.check([A]) == {A: Verdict.UNAVAILABLE}


def test_no_numbers_no_request(service: Service, validator_for: Any) -> None:
    assert validator_for("/ok").check([]) == {}
    assert service.requests == []


def test_a_client_passed_in_is_used_and_left_open(service: Service) -> None:
    with httpx.Client() as client:
        validator = HttpNumberValidator(service.url + "/ok", TIMEOUT_S, client=client)
        assert validator.check([B]) == {B: Verdict.DNC}
        validator.close()
        assert not client.is_closed


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://"])
def test_a_bad_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(ValueError):
        HttpNumberValidator(url, TIMEOUT_S)


def test_no_validator_allows_everything() -> None:
    validator: NumberValidator = NoValidator()
    assert validator.check([A, B]) == {A: Verdict.ALLOWED, B: Verdict.ALLOWED}
    none = make_validator(None, 1.0)
    assert isinstance(none, NoValidator)
    none.close()
    made = make_validator("http://127.0.0.1:9/check", 1.0)
    assert isinstance(made, HttpNumberValidator)
    made.close()
