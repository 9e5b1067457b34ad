"""A real ``callhopper serve`` process for the page tests, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: Generous: a loaded CI machine takes a while to import the application.
START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``callhopper <args>`` in a new process; raises with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "callhopper.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"callhopper {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class LiveServer:
    """One server process over one database; :meth:`restart` keeps the database."""

    database_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    start_timeout_s: float = START_TIMEOUT_S
    #: A command the server is started under (the SIP tests: their network namespace).
    launcher: list[str] = field(default_factory=list)
    #: How the test process reaches the server, if not over TCP at :attr:`url` (the SIP
    #: tests: a Unix socket relayed into their namespace).
    transport: httpx.BaseTransport | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CALLHOPPER_DATABASE_URL": self.database_url,
            "CALLHOPPER_HOST": "127.0.0.1",
            "CALLHOPPER_PORT": str(self.port),
            "CALLHOPPER_IMPORT_WORKERS": "0",
            **self.extra_env,
        }

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.launcher, sys.executable, "-m", "callhopper.cli", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.start_timeout_s
        with self.client() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: {self.log_path.read_text()[-4000:]}")
                try:
                    if client.get("/healthz", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()  # never leave a server behind that would start after the test gave up
        raise RuntimeError(f"the server did not start: {self.log_path.read_text()[-4000:]}")

    def client(self) -> httpx.Client:
        """An HTTP client of the server, as the test process reaches it."""
        return httpx.Client(base_url=self.url, transport=self.transport, timeout=30)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, in the middle of whatever it was doing (no
        shutdown, no flush, no event sent); :meth:`start` brings it back on the database."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
