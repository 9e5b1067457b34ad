"""A SIP worker process: PJSUA2 placing and joining calls for the dialer's supervisor.

Run as ``python -m callhopper.telephony.sip.worker --socket PATH --worker N`` with its
configuration (JSON) in ``CALLHOPPER_SIP_WORKER_CONFIG``. It connects to the supervisor's
Unix socket, says hello, then obeys commands and reports call events
(:mod:`callhopper.telephony.sip.protocol`) until the socket closes, when it hangs up every
call it holds and exits: a worker never outlives its dialer.

PJSUA2 runs with no threads of its own for SIP (``threadCnt = 0``, ``mainThreadOnly``):
this process's one Python thread polls PJSIP (``libHandleEvents``) and the socket in turn,
so every PJSUA2 object is created, used and destroyed on the thread PJSIP knows. Media run
in PJMEDIA's own clock thread, which the voice-activity detector's port is called from; it
only appends frames to a deque that the main loop reads.

One process holds at most :data:`~callhopper.telephony.sip.config.PJSUA_MAX_CALLS` calls (a
limit compiled into the wheel); the supervisor never asks for more. Each call to a customer
and the agent leg it is bridged to live in the same process (see
``docs/adr/0007-sip-process-layout.md``).
"""

from __future__ import annotations

import argparse
import collections
import os
import select
import signal
import socket
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

from callhopper.telephony.sip import amd
from callhopper.telephony.sip.config import (
    PJSUA_MAX_CALLS,
    RTP_PORTS_PER_WORKER,
    WORKER_CONFIG_ENV,
    CallerIdHeader,
    Transport,
    WorkerConfig,
)
from callhopper.telephony.sip.protocol import LineBuffer, Message, decode, encode
from callhopper.telephony.sip.waker import Waker

#: How long one poll of PJSIP may block while the worker holds calls, in milliseconds. A SIP
#: event or a command (through :class:`Waker`) ends the poll at once, and PJSIP shortens it
#: to its next timer; what waits for the poll to end is the media clock's news (a message
#: played to its end, the detector's frames). Each poll costs the Python loop a turn: 80
#: workers polling every 10 ms took about half a core for nothing (``bench/RESULTS.md``).
POLL_MS = 50
#: How long an idle worker (no calls) sleeps on its socket between polls of PJSIP: a worker
#: without calls has no SIP timers to serve, and dozens of idle workers must cost nothing.
IDLE_WAIT_S = 0.1
#: Codecs offered, best first. G.711 is what every trunk and softphone speaks.
CODECS = ("PCMU/8000/1", "PCMA/8000/1")
BUSY_CODES = frozenset({486, 600})
#: How long past its analysis time the detector may wait for audio before giving up.
NO_AUDIO_GRACE_S = 1.0

Send = Callable[[Message], None]


def _silence_wav(directory: Path) -> Path:
    """A second of silence to keep on answered calls that are joined to nothing yet (PJMEDIA
    stops sending RTP to a call no port transmits to, and some carriers hang up then)."""
    path = directory / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(amd.SAMPLE_RATE_HZ)
        w.writeframes(b"\0\0" * amd.SAMPLE_RATE_HZ)
    return path


class DetectorPort(pj.AudioMediaPort):  # type: ignore[misc]
    """A conference port that receives the customer's audio for the machine detector."""

    def __init__(self, frames: collections.deque[bytes]) -> None:
        super().__init__()
        self.frames = frames

    def onFrameReceived(self, frame: Any) -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
            self.frames.append(bytes(frame.buf))


class MessagePlayer(pj.AudioMediaPlayer):  # type: ignore[misc]
    """Plays a file once and notes its end (the main loop hangs up)."""

    def __init__(self, ended: collections.deque[str], call_id: str) -> None:
        super().__init__()
        self.ended = ended
        self.call_id = call_id

    def onEof2(self) -> None:
        self.ended.append(self.call_id)


@dataclass
class Leg:
    """One customer call and what hangs off it (the agent leg, players, the detector)."""

    call_id: str
    customer: Call
    ring_deadline: float
    detect: bool
    record: bool
    agent: Call | None = None
    answered: bool = False
    answered_at: float = 0.0
    rang: bool = False
    ending_by: str | None = None
    cancelled_for_no_answer: bool = False
    bridge_started: float = 0.0
    bridged: bool = False
    detector: amd.MachineDetector | None = None
    detector_port: DetectorPort | None = None
    frames: collections.deque[bytes] = field(default_factory=collections.deque)
    keepalive: Any = None
    player: MessagePlayer | None = None
    recorder: Any = None
    done: bool = False


class Call(pj.Call):  # type: ignore[misc]
    """A PJSUA2 call that forwards its state changes to the worker."""

    def __init__(self, worker: Worker, account: Any, leg: str, role: str) -> None:
        super().__init__(account)
        self.worker = worker
        self.leg = leg
        self.role = role

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        self.worker.on_state(self, info.state, info.lastStatusCode)

    def onCallMediaState(self, prm: Any) -> None:
        self.worker.on_media(self)

    def audio(self) -> Any:
        return self.getAudioMedia(-1)


class Worker:
    """The PJSUA2 endpoint, its two accounts (trunk and agents) and the calls it holds."""

    def __init__(self, config: WorkerConfig, number: int, send: Send, scratch: Path) -> None:
        self.config = config
        self.rtp_port = config.rtp_port_base + number * RTP_PORTS_PER_WORKER
        self.send = send
        self.legs: dict[str, Leg] = {}
        self.graveyard: list[Any] = []
        self.played: collections.deque[str] = collections.deque()
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.mainThreadOnly = True
        ep_cfg.uaConfig.maxCalls = PJSUA_MAX_CALLS
        ep_cfg.uaConfig.userAgent = "callhopper"
        ep_cfg.logConfig.level = config.log_level
        ep_cfg.logConfig.consoleLevel = config.log_level
        ep_cfg.medConfig.clockRate = amd.SAMPLE_RATE_HZ
        ep_cfg.medConfig.sndClockRate = amd.SAMPLE_RATE_HZ
        ep_cfg.medConfig.noVad = True
        ep_cfg.medConfig.ecTailLen = 0
        self.ep.libInit(ep_cfg)
        self.ep.audDevManager().setNullDev()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 0)
        for priority, codec_id in enumerate(CODECS):
            self.ep.codecSetPriority(codec_id, 255 - priority)
        trunk = config.trunk
        transport_type = {
            Transport.UDP: pj.PJSIP_TRANSPORT_UDP,
            Transport.TCP: pj.PJSIP_TRANSPORT_TCP,
            Transport.TLS: pj.PJSIP_TRANSPORT_TLS,
        }
        trunk_tp = self._transport(transport_type[trunk.transport])
        agent_tp = (
            trunk_tp
            if trunk.transport is Transport.UDP
            else self._transport(pj.PJSIP_TRANSPORT_UDP)
        )
        self.ep.libStart()
        self.trunk_account = self._account(
            f"sip:callhopper@{trunk.from_domain or trunk.host}", trunk_tp, proxy=None
        )
        if trunk.username:
            self.trunk_account_cfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", trunk.username, 0, trunk.password)
            )
            self.trunk_account.modify(self.trunk_account_cfg)
        agents = config.agents
        self.agent_account = self._account(
            f"sip:dialer@{agents.domain}", agent_tp, proxy=agents.proxy_uri()
        )
        self.silence = _silence_wav(scratch)
        #: The worker's own UDP SIP port, where :class:`Waker` sends its keep-alives.
        host, _, port = self.ep.transportGetInfo(agent_tp).localName.rpartition(":")
        self.wake_address = (host, int(port))

    def _transport(self, kind: int) -> int:
        cfg = pj.TransportConfig()
        cfg.boundAddress = self.config.bind_address
        cfg.port = 0
        return int(self.ep.transportCreate(kind, cfg))

    def _account(self, id_uri: str, transport: int, proxy: str | None) -> Any:
        cfg = pj.AccountConfig()
        cfg.idUri = id_uri
        cfg.sipConfig.transportId = transport
        if proxy:
            cfg.sipConfig.proxies.append(proxy)
        # A multi-codec answer would otherwise get a re-INVITE that some peers reject.
        cfg.mediaConfig.lockCodecEnabled = False
        cfg.mediaConfig.transportConfig.boundAddress = self.config.bind_address
        cfg.mediaConfig.transportConfig.port = self.rtp_port
        cfg.mediaConfig.transportConfig.portRange = RTP_PORTS_PER_WORKER // 2
        account = pj.Account()
        account.create(cfg)
        if proxy is None:
            self.trunk_account_cfg = cfg
        return account

    # --- commands ---------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        op = message.get("op")
        call_id = str(message.get("call", ""))
        try:
            if op == "originate":
                self.originate(message)
            elif op == "bridge":
                self.bridge(call_id, str(message["agent"]))
            elif op == "play":
                try:
                    self.play(call_id, str(message["file"]))
                except pj.Error:
                    # The message cannot be played (no such file): the call is still hung
                    # up, never left on a silent line; the error is reported below.
                    self.hang_up(call_id, by="engine")
                    raise
            elif op == "hangup":
                self.hang_up(call_id, by="engine")
            else:
                raise ValueError(f"unknown command {op!r}")
        except pj.Error as exc:  # a command's failure is reported, the worker goes on
            self.send({"ev": "error", "call": call_id, "op": op, "message": exc.info()})
        except (ValueError, KeyError) as exc:
            self.send({"ev": "error", "call": call_id, "op": op, "message": repr(exc)})

    def originate(self, message: Message) -> None:
        call_id = str(message["call"])
        if call_id in self.legs:
            raise ValueError(f"call {call_id} is already placed")
        trunk = self.config.trunk
        caller_id = str(message["caller_id"])
        customer = Call(self, self.trunk_account, call_id, "customer")
        leg = Leg(
            call_id=call_id,
            customer=customer,
            ring_deadline=time.monotonic() + float(message["ring_timeout_s"]),
            detect=bool(message.get("detect")),
            record=bool(message.get("record")),
        )
        if leg.detect:
            detector_cfg = self.config.detector
            leg.detector = amd.MachineDetector(detector_cfg, amd.webrtc_vad(detector_cfg.vad_mode))
        self.legs[call_id] = leg
        prm = pj.CallOpParam(True)
        identity = trunk.identity_uri(caller_id)
        if trunk.caller_id_header in (CallerIdHeader.FROM, CallerIdHeader.BOTH):
            prm.txOption.localUri = f"<{identity}>"
        if trunk.caller_id_header in (CallerIdHeader.PAI, CallerIdHeader.BOTH):
            header = pj.SipHeader()
            header.hName = "P-Asserted-Identity"
            header.hValue = f"<{identity}>"
            prm.txOption.headers.append(header)
        try:
            customer.makeCall(trunk.target_uri(str(message["to"])), prm)
        except pj.Error as exc:
            del self.legs[call_id]
            self.graveyard.append(customer)
            self.send(
                {
                    "ev": "unanswered",
                    "call": call_id,
                    "outcome": "failed",
                    "code": 503,
                    "reason": exc.info(),
                }
            )

    def bridge(self, call_id: str, agent: str) -> None:
        leg = self._answered(call_id)
        if leg.agent is not None:
            raise ValueError(f"call {call_id} is already bridged")
        leg.bridge_started = time.monotonic()
        agent_call = Call(self, self.agent_account, call_id, "agent")
        leg.agent = agent_call
        prm = pj.CallOpParam(True)
        header = pj.SipHeader()
        header.hName = "X-Callhopper-Call"
        header.hValue = call_id
        prm.txOption.headers.append(header)
        agent_call.makeCall(self.config.agents.agent_uri(agent), prm)

    def play(self, call_id: str, path: str) -> None:
        leg = self._answered(call_id)
        player = MessagePlayer(self.played, call_id)
        player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        self._stop_keepalive(leg)
        player.startTransmit(leg.customer.audio())
        if leg.recorder is not None:
            player.startTransmit(leg.recorder)
        leg.player = player

    def _answered(self, call_id: str) -> Leg:
        leg = self.legs.get(call_id)
        if leg is None or not leg.answered or leg.done:
            raise ValueError(f"call {call_id} is not answered")
        return leg

    def hang_up(self, call_id: str, by: str) -> None:
        leg = self.legs.get(call_id)
        if leg is None or leg.done:
            return
        if leg.ending_by is None:
            leg.ending_by = by
        for call in (leg.agent, leg.customer):
            if call is not None and call.isActive():
                call.hangup(pj.CallOpParam(True))

    # --- PJSUA2 callbacks -------------------------------------------------------------

    def on_state(self, call: Call, state: int, code: int) -> None:
        leg = self.legs.get(call.leg)
        if leg is None:
            return
        if call.role == "agent":
            self._on_agent_state(leg, state, code)
            return
        if state == pj.PJSIP_INV_STATE_EARLY and not leg.rang and code in (180, 183):
            leg.rang = True
            self.send({"ev": "ringing", "call": leg.call_id, "code": code})
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.answered:
            leg.answered = True
            leg.answered_at = time.monotonic()
            self.send({"ev": "answered", "call": leg.call_id})
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._on_customer_gone(leg, code)

    def _on_customer_gone(self, leg: Leg, code: int) -> None:
        leg.done = True
        if leg.answered:
            self.send(
                {
                    "ev": "hungup",
                    "call": leg.call_id,
                    "by": leg.ending_by or "contact",
                    "code": code,
                }
            )
        elif leg.cancelled_for_no_answer:
            self.send(
                {"ev": "unanswered", "call": leg.call_id, "outcome": "no_answer", "code": code}
            )
        elif leg.ending_by is not None:
            # The engine hung up a ringing call: the port reports that as no answer too.
            self.send(
                {"ev": "unanswered", "call": leg.call_id, "outcome": "no_answer", "code": code}
            )
        else:
            outcome = "busy" if code in BUSY_CODES else "failed"
            self.send({"ev": "unanswered", "call": leg.call_id, "outcome": outcome, "code": code})
        if leg.agent is not None and leg.agent.isActive():
            leg.agent.hangup(pj.CallOpParam(True))
        self._retire(leg)

    def _on_agent_state(self, leg: Leg, state: int, code: int) -> None:
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            agent = leg.agent
            if not leg.bridged and not leg.done:
                leg.agent = None
                self.graveyard.append(agent)
                self._keepalive(leg)
                self.send({"ev": "bridge_failed", "call": leg.call_id, "code": code})
            elif not leg.done:
                self.hang_up(leg.call_id, by="agent")

    def on_media(self, call: Call) -> None:
        leg = self.legs.get(call.leg)
        if leg is None or leg.done or not call.hasMedia():
            return
        if call.role == "customer":
            if leg.player is None and not leg.bridged:
                self._keepalive(leg)
            if leg.detector is not None and leg.detector_port is None:
                port = DetectorPort(leg.frames)
                fmt = pj.MediaFormatAudio()
                fmt.init(pj.PJMEDIA_FORMAT_PCM, amd.SAMPLE_RATE_HZ, 1, amd.FRAME_MS * 1000, 16)
                port.createPort(f"amd-{leg.call_id}", fmt)
                call.audio().startTransmit(port)
                leg.detector_port = port
            if leg.record and leg.recorder is None and self.config.recordings_dir:
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(
                    str(Path(self.config.recordings_dir) / f"{leg.call_id}.wav")
                )
                call.audio().startTransmit(recorder)
                leg.recorder = recorder
        elif call.role == "agent" and not leg.bridged:
            customer_audio = leg.customer.audio()
            agent_audio = call.audio()
            self._stop_keepalive(leg)
            customer_audio.startTransmit(agent_audio)
            agent_audio.startTransmit(customer_audio)
            if leg.recorder is not None:
                agent_audio.startTransmit(leg.recorder)
            leg.bridged = True
            ms = round((time.monotonic() - leg.bridge_started) * 1000)
            self.send({"ev": "bridged", "call": leg.call_id, "ms": ms})

    def _keepalive(self, leg: Leg) -> None:
        if leg.keepalive is not None or not leg.customer.hasMedia():
            return
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(self.silence), 0)
        player.startTransmit(leg.customer.audio())
        leg.keepalive = player

    def _stop_keepalive(self, leg: Leg) -> None:
        if leg.keepalive is not None:
            self.graveyard.append(leg.keepalive)
            leg.keepalive = None

    def _retire(self, leg: Leg) -> None:
        """Forget a finished call; its PJSUA2 objects are destroyed on the next poll, outside
        the callback that reported the end (destroying a call inside its own callback
        crashes PJSUA2)."""
        self.legs.pop(leg.call_id, None)
        self.graveyard.extend(
            [leg.customer, leg.agent, leg.keepalive, leg.player, leg.detector_port, leg.recorder]
        )

    # --- the loop ---------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        for leg in list(self.legs.values()):
            if not leg.answered and not leg.done and now >= leg.ring_deadline:
                if not leg.cancelled_for_no_answer:
                    leg.cancelled_for_no_answer = True
                    leg.customer.hangup(pj.CallOpParam(True))
            if leg.detector is not None and leg.answered:
                budget_s = self.config.detector.total_analysis_ms / 1000 + NO_AUDIO_GRACE_S
                if now - leg.answered_at > budget_s:
                    # No audio reached the detector (a one-way media path): undecided.
                    self._detected(leg, amd.Decision(amd.Verdict.UNKNOWN, 0, "NOAUDIO"))
                    continue
                while leg.frames:
                    frame = leg.frames.popleft()
                    if len(frame) != amd.FRAME_BYTES:
                        continue
                    decision = leg.detector.feed(frame)
                    if decision is not None:
                        self._detected(leg, decision)
                        break
        while self.played:
            self.hang_up(self.played.popleft(), by="engine")
        self.graveyard.clear()

    def _detected(self, leg: Leg, decision: amd.Decision) -> None:
        self.send(
            {
                "ev": "detected",
                "call": leg.call_id,
                "result": decision.verdict.value,
                "ms": decision.after_ms,
                "cause": decision.cause,
            }
        )
        leg.detector = None
        leg.frames.clear()
        if leg.detector_port is not None:
            self.graveyard.append(leg.detector_port)
            leg.detector_port = None

    def shutdown(self) -> None:
        for call_id in list(self.legs):
            self.hang_up(call_id, by="engine")
        deadline = time.monotonic() + 2
        while self.legs and time.monotonic() < deadline:
            self.ep.libHandleEvents(POLL_MS)
            self.tick()
        self.legs.clear()
        self.graveyard.clear()
        self.ep.libDestroy()


def serve(sock: socket.socket, worker_no: int, config: WorkerConfig) -> None:
    outbox: list[bytes] = []

    def send(message: Message) -> None:
        outbox.append(encode(message))

    def flush() -> None:
        if outbox:
            sock.sendall(b"".join(outbox))
            outbox.clear()

    with tempfile.TemporaryDirectory(prefix="callhopper-sip-") as scratch:
        worker = Worker(config, worker_no, send, Path(scratch))
        send({"ev": "hello", "worker": worker_no, "pid": os.getpid()})
        flush()
        lines = LineBuffer()
        waker = Waker(sock, worker.wake_address)
        running = True
        while running:
            if worker.legs:
                worker.ep.libHandleEvents(POLL_MS)
                readable, _, _ = select.select([sock], [], [], 0)
            else:
                readable, _, _ = select.select([sock], [], [], IDLE_WAIT_S)
                worker.ep.libHandleEvents(0)
            if readable:
                data = sock.recv(65536)
                if not data:  # the supervisor is gone: so are our calls
                    running = False
                for line in lines.feed(data):
                    message = decode(line)
                    if message.get("op") == "shutdown":
                        running = False
                    else:
                        worker.handle(message)
            waker.drained()
            worker.tick()
            try:
                flush()
            except OSError:
                running = False
        waker.stop()
        worker.shutdown()
        try:
            flush()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket", required=True, help="the supervisor's Unix socket")
    parser.add_argument("--worker", type=int, required=True, help="this worker's number")
    args = parser.parse_args(argv)
    config = WorkerConfig.from_json(os.environ[WORKER_CONFIG_ENV])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    # SIGTERM closes the socket's reading side: the loop ends as if the supervisor left,
    # hanging up every call first.
    signal.signal(signal.SIGTERM, lambda *_: sock.shutdown(socket.SHUT_RD))
    try:
        serve(sock, args.worker, config)
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
