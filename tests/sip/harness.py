"""SIP test harness: a loopback-only network namespace per test, and SIPp as the far end.

Every SIP and RTP packet of these tests stays inside a network namespace that the test makes
(``unshare --net``, as root) and that holds nothing but ``lo``: the workers, SIPp, Kamailio,
rtpengine and baresip are started inside it through ``nsenter``. The test process itself
stays outside (it needs the database), and talks to the workers over a Unix socket, which
the file system carries across namespaces.

Where the machine cannot make a namespace (not root, no ``unshare``) or lacks a peer, the
tests skip and name what to install; under CI (``CI`` set) they fail instead, so that a CI
run never passes by skipping them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from callhopper.telephony.sip.deploy import PeerSettings, commands, write

SCENARIOS = Path(__file__).parent / "scenarios"
#: The talk scenario's customer waits this long after answering before speaking, so that the
#: bridge to the agent (which on a loaded machine may take a second) is up by then.
SPEAK_AFTER = {"speak_after": "2000"}
#: Debian packages (and the Python extra) the SIP tests need, by the command they provide.
PEERS = {
    "sipp": "sip-tester",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "ip": "iproute2",
}


def missing() -> str | None:
    """Why the SIP tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the SIP tests need root to make a loopback-only network namespace (unshare -n)"
    absent = sorted({pkg for cmd, pkg in PEERS.items() if shutil.which(cmd) is None})
    if absent:
        return f"the SIP tests need apt-get install -y {' '.join(absent)}"
    for module in ("pjsua2", "webrtcvad"):
        if importlib.util.find_spec(module) is None:
            return (
                f"the SIP tests need the sip extra: pip install -e '.[sip]' ({module} is missing)"
            )
    return None


def require(*commands: str) -> None:
    """Skip (or, under CI, fail) when the SIP tests or one of ``commands`` cannot run."""
    reason = missing()
    if reason is None:
        absent = [c for c in commands if shutil.which(c) is None]
        if absent:
            reason = f"the SIP tests need {', '.join(absent)} (see docs/telephony.md)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


class NetNamespace:
    """A network namespace with only ``lo`` up, held open by a sleeping process."""

    def __init__(self) -> None:
        self._holder = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && echo up && exec sleep 86400",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._holder.stdout is not None
        if self._holder.stdout.readline().strip() != "up":
            self._holder.kill()
            raise RuntimeError("could not make a network namespace")
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside this namespace."""
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", "--"]

    def popen(self, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = subprocess.Popen([*self.prefix, *argv], **kwargs)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def run(self, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._holder.kill()
        self._holder.wait()
        if self._holder.stdout is not None:
            self._holder.stdout.close()


@contextlib.contextmanager
def namespace() -> Iterator[NetNamespace]:
    ns = NetNamespace()
    try:
        yield ns
    finally:
        ns.close()


@dataclass(frozen=True)
class SipMessage:
    direction: str  # "received" or "sent"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0]

    def header(self, name: str) -> str | None:
        match = re.search(rf"^{re.escape(name)}:\s*(.*?)\s*$", self.text, re.M | re.I)
        return match.group(1) if match else None


class Sipp:
    """SIPp playing the customer's phone or the carrier's trunk, one scenario."""

    def __init__(
        self,
        ns: NetNamespace,
        scenario: str,
        workdir: Path,
        *,
        port: int = 5090,
        media_port: int = 16000,
        transport: str = "u1",
        delay_ms: int = 0,
        variables: dict[str, str] | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.port = port
        self.media_port = media_port
        self.messages_file = workdir / f"sipp-{scenario}-{port}.log"
        argv = [
            "sipp",
            "-sf", str(SCENARIOS / f"{scenario}.xml"),
            "-i", "127.0.0.1",
            "-p", str(port),
            "-mi", "127.0.0.1",
            "-mp", str(media_port),
            "-t", transport,
            "-d", str(delay_ms),
            "-trace_msg",
            "-message_file", str(self.messages_file),
            "-nostdin",
            *extra,
        ]  # fmt: skip
        for name, value in (variables or {}).items():
            argv += ["-set", name, value]
        self.errors_file = workdir / f"sipp-{scenario}-{port}.err"
        with self.errors_file.open("wb") as errors:
            self.proc = ns.popen(argv, stdout=subprocess.DEVNULL, stderr=errors, cwd=workdir)
        self._wait_listening(ns)

    def _wait_listening(self, ns: NetNamespace) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sipp exited with {self.proc.returncode}: {self.errors_file.read_text()}"
                )
            out = ns.run(["ss", "-lnupt", "sport", "=", f":{self.port}"]).stdout
            if "sipp" in out:
                return
            time.sleep(0.05)
        raise RuntimeError("sipp did not start listening")

    def messages(self) -> list[SipMessage]:
        if not self.messages_file.exists():
            return []
        text = self.messages_file.read_text(errors="replace")
        found = []
        for block in re.split(r"^-{20,}.*$", text, flags=re.M):
            head, _, body = block.strip().partition("\n")
            match = re.search(r"message (received|sent)", head)
            if match:
                found.append(SipMessage(match.group(1), body.strip()))
        return found

    def invites(self) -> list[SipMessage]:
        """The INVITEs SIPp received (a retried INVITE after a 401 counts again)."""
        return [
            m
            for m in self.messages()
            if m.direction == "received" and m.first_line.startswith("INVITE ")
        ]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_listening(ns: NetNamespace, port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait until something in ``ns`` listens on ``port`` (UDP or TCP)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if f":{port} " in ns.run(["ss", "-lnut", "sport", "=", f":{port}"]).stdout:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on {port}")


class AgentPeers:
    """rtpengine and Kamailio from the project's templates, running inside ``ns``."""

    def __init__(self, ns: NetNamespace, workdir: Path, **settings: object) -> None:
        self.settings = PeerSettings(run_dir=str(workdir), **settings)  # type: ignore[arg-type]
        write(self.settings, workdir)
        cmds = commands(self.settings, workdir)
        self.logs = {name: workdir / f"{name}.log" for name in cmds}
        with self.logs["rtpengine"].open("wb") as log:
            rtpengine = ns.popen(cmds["rtpengine"], stdout=log, stderr=subprocess.STDOUT)
        wait_listening(
            ns, int(self.settings.rtpengine_ng.rsplit(":", 1)[1]), rtpengine, "rtpengine"
        )
        with self.logs["kamailio"].open("wb") as log:
            kamailio = ns.popen(cmds["kamailio"], stdout=log, stderr=subprocess.STDOUT)
        self.kamailio = kamailio
        wait_listening(ns, self.settings.ws_port, kamailio, "kamailio")
        wait_listening(ns, self.settings.sip_port, kamailio, "kamailio")


class Baresip:
    """baresip as an agent's softphone: registers to Kamailio, answers by itself, says what
    is in ``speech`` (8 kHz mono WAV) and records what it hears (``heard``)."""

    def __init__(
        self, ns: NetNamespace, workdir: Path, agent: str, speech: Path, *, port: int = 5080
    ) -> None:
        self.dir = workdir / f"baresip-{agent}"
        self.dir.mkdir()
        (self.dir / "rec").mkdir()
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{port}",
                    f"audio_player aufile,{self.dir / 'played.wav'}",
                    f"audio_source aufile,{speech}",
                    f"audio_alert aufile,{speech}",
                    "audio_srate 8000",
                    "audio_channels 1",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    f"snd_path {self.dir / 'rec'}",
                    "",
                ]
            )
        )
        (self.dir / "accounts").write_text(
            f'<sip:{agent}@callhopper.local>;outbound="sip:127.0.0.1:5060;transport=udp";'
            "regint=300;answermode=auto;audio_codecs=PCMU\n"
        )
        self.log = self.dir / "baresip.log"
        with self.log.open("wb") as log:
            self.proc = ns.popen(
                ["baresip", "-4", "-n", "127.0.0.1", "-f", str(self.dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while "200 OK" not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"baresip did not register: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """End baresip, which completes its recordings."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def heard(self) -> Path:
        """The recording of what the agent heard (the decoded audio of the last call); call
        :meth:`stop` first."""
        return sorted((self.dir / "rec").glob("*-dec.wav"))[-1]


def register_agents(
    users: Sequence[str], contact_port: int, domain: str, proxy_port: int = 5060
) -> None:
    """Register each of ``users`` at Kamailio (on ``proxy_port``, in ``domain``) with the
    SIPp at ``contact_port`` (on 127.0.0.1) as their phone; run inside the namespace."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    with sock:
        for n, user in enumerate(users, 1):
            message = (
                f"REGISTER sip:{domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-reg-{n}-"
                f"{random.getrandbits(32)}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:{user}@{domain}>;tag=r{n}\r\n"
                f"To: <sip:{user}@{domain}>\r\n"
                f"Call-ID: reg-{n}-{os.getpid()}@callhopper-tests\r\n"
                "CSeq: 1 REGISTER\r\n"
                f"Contact: <sip:{user}@127.0.0.1:{contact_port}>\r\n"
                "Expires: 3600\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            sock.sendto(message.encode(), ("127.0.0.1", proxy_port))
            reply = sock.recv(4096).decode(errors="replace")
            if not reply.startswith("SIP/2.0 200"):
                raise RuntimeError(f"registering {user} failed: {reply.splitlines()[0]}")


def register_agents_in(ns: NetNamespace, users: Sequence[str], contact_port: int) -> None:
    """:func:`register_agents` run inside ``ns`` (Kamailio's loopback is there)."""
    root = Path(__file__).parents[2]
    code = (
        "from callhopper.domain.calls import DEFAULT_AGENT_SIP_DOMAIN as domain\n"
        "from tests.sip.harness import register_agents\n"
        f"register_agents({list(users)!r}, {contact_port}, domain)\n"
    )
    subprocess.run([*ns.prefix, sys.executable, "-c", code], cwd=root, check=True, timeout=60)


class Capture:
    """dumpcap on the loopback, keeping the UDP packets sent to ``port`` (or those the
    capture filter ``bpf`` selects), inside ``ns`` (``None``: where this process runs)."""

    def __init__(
        self, ns: NetNamespace | None, path: Path, port: int = 0, *, bpf: str = ""
    ) -> None:
        self.path = path
        argv = ["dumpcap", "-q", "-i", "lo", "-P", "-B", "64", "-f", bpf or f"udp dst port {port}",
                "-w", str(path)]  # fmt: skip
        devnull = subprocess.DEVNULL
        self.proc = (
            ns.popen(argv, stdout=devnull, stderr=devnull)
            if ns is not None
            else subprocess.Popen(argv, stdout=devnull, stderr=devnull)
        )
        deadline = time.monotonic() + 10
        while not path.exists() or path.stat().st_size == 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("dumpcap did not start (apt-get install tshark)")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
