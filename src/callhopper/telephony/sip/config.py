"""What the SIP adapter needs to know: the carrier's trunk, the agents' proxy, the workers.

Plain frozen dataclasses, turned into JSON for the worker processes (they read their
configuration from the environment variable :data:`WORKER_CONFIG_ENV`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from callhopper.domain.calls import DEFAULT_AGENT_SIP_DOMAIN

#: The environment variable a worker process reads its :class:`WorkerConfig` from (JSON).
WORKER_CONFIG_ENV = "CALLHOPPER_SIP_WORKER_CONFIG"

#: PJSUA2 from the ``pjsua2-python`` wheel holds at most this many calls per process
#: (``PJSUA_MAX_CALLS``, compiled in; ``maxCalls`` cannot raise it).
PJSUA_MAX_CALLS = 4
#: RTP (and RTCP) ports one worker may bind: two per call, with room for PJSIP to skip some.
RTP_PORTS_PER_WORKER = 40


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class CallerIdHeader(StrEnum):
    """Where the caller ID goes in the INVITE: carriers differ in which one they honour."""

    FROM = "from"
    PAI = "pai"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    """A carrier's SIP trunk: where calls to customers go."""

    host: str
    port: int = 5060
    transport: Transport = Transport.UDP
    #: Digest credentials, when the carrier asks for them (401/407).
    username: str = ""
    password: str = ""
    #: The domain part of the From and P-Asserted-Identity URIs (default: ``host``).
    from_domain: str = ""
    caller_id_header: CallerIdHeader = CallerIdHeader.BOTH
    #: A prefix the carrier wants before every dialled number (``+`` is kept otherwise).
    dial_prefix: str = ""

    def target_uri(self, number: str) -> str:
        """The Request-URI of a call to ``number`` (E.164) through this trunk."""
        user = self.dial_prefix + number if self.dial_prefix else number
        return f"sip:{user}@{self.host}:{self.port};transport={self.transport.value}"

    def identity_uri(self, caller_id: str) -> str:
        return f"sip:{caller_id}@{self.from_domain or self.host}"


@dataclass(frozen=True, slots=True)
class AgentProxyConfig:
    """Kamailio, where agents' softphones register: agent legs are sent through it."""

    host: str = "127.0.0.1"
    port: int = 5060
    #: The SIP domain agents register in (``sip:agent-7@<domain>``).
    domain: str = DEFAULT_AGENT_SIP_DOMAIN

    def agent_uri(self, address: str) -> str:
        """The Request-URI of an agent's line: ``address`` is a full SIP URI or a user."""
        if address.startswith(("sip:", "sips:")):
            return address
        return f"sip:{address}@{self.domain}"

    def proxy_uri(self) -> str:
        return f"sip:{self.host}:{self.port};lr"


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Answering-machine detection; see :mod:`callhopper.telephony.sip.amd` for each rule.

    The names are Asterisk's ``amd.conf`` settings. The defaults differ where Asterisk's
    (greeting 1500 ms, 2 words, 5000 ms) take a person who says more than "Hello?" for a
    machine: here a person taken for a machine is an abandoned call, so the detector waits
    for stronger evidence (measured in ``bench/sip_bench.py amd``).
    """

    enabled: bool = False
    initial_silence_ms: int = 2500
    greeting_ms: int = 5500
    after_greeting_silence_ms: int = 800
    total_analysis_ms: int = 7000
    min_word_ms: int = 100
    maximum_word_length_ms: int = 5000
    between_words_silence_ms: int = 50
    maximum_words: int = 8
    #: webrtcvad aggressiveness, 0 (lenient) to 3 (strict about what is speech).
    vad_mode: int = 2


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker process is started with."""

    trunk: TrunkConfig
    agents: AgentProxyConfig = field(default_factory=AgentProxyConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    #: The address the worker's SIP and RTP sockets bind to.
    bind_address: str = "127.0.0.1"
    #: Worker ``n`` takes its RTP ports from ``rtp_port_base + n * RTP_PORTS_PER_WORKER``, so
    #: that workers never race for the same ports.
    rtp_port_base: int = 20000
    #: A recording of the whole call (both parties) is written here for calls that ask.
    recordings_dir: str = ""
    #: PJSIP's log level on the worker's standard output (0 to 6; 0: only what the worker
    #: itself reports).
    log_level: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        data: dict[str, Any] = json.loads(text)
        trunk = dict(data["trunk"])
        trunk["transport"] = Transport(trunk["transport"])
        trunk["caller_id_header"] = CallerIdHeader(trunk["caller_id_header"])
        return cls(
            trunk=TrunkConfig(**trunk),
            agents=AgentProxyConfig(**data["agents"]),
            detector=DetectorConfig(**data["detector"]),
            bind_address=data["bind_address"],
            rtp_port_base=data["rtp_port_base"],
            recordings_dir=data["recordings_dir"],
            log_level=data["log_level"],
        )
