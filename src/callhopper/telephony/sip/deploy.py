"""Kamailio and rtpengine configuration for the agents' side, written from templates.

``callhopper telephony config --out DIR`` renders them with :class:`PeerSettings` and prints
the commands that start each peer with its file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import jinja2

from callhopper.domain.calls import DEFAULT_AGENT_SIP_DOMAIN

#: Where Debian's kamailio package keeps its modules.
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """What the Kamailio and rtpengine templates are filled in with."""

    domain: str = DEFAULT_AGENT_SIP_DOMAIN
    #: The address Kamailio and rtpengine bind to.
    listen_ip: str = "127.0.0.1"
    #: The address agents reach them at, when it differs (behind NAT or a load balancer).
    public_ip: str = ""
    sip_port: int = 5060
    #: SIP over WebSocket (plain; put a TLS proxy or ``tls`` in front of it outside a lab).
    ws_port: int = 8088
    #: SIP over secure WebSocket, when ``tls`` is on.
    wss_port: int = 8443
    tls: bool = False
    #: Kamailio's TLS configuration file (certificate and key), when ``tls`` is on.
    tls_config: str = "/etc/kamailio/tls.cfg"
    #: Who may send calls to agents: the dialer's workers' network (CIDR).
    dialer_network: str = "127.0.0.0/8"
    #: The password agents register with (digest); empty: registration is open to anyone
    #: who can reach Kamailio, which only a closed lab network should allow.
    agent_password: str = ""
    rtpengine_ng: str = "127.0.0.1:2223"
    rtp_port_min: int = 30000
    rtp_port_max: int = 40000
    children: int = 4
    module_path: str = KAMAILIO_MODULES
    run_dir: str = "/run/kamailio"

    @property
    def media_ip(self) -> str:
        return self.listen_ip


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (files("callhopper.telephony") / "templates" / name).read_text()
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # configuration files, not HTML
    )


def render(settings: PeerSettings) -> dict[str, str]:
    """The configuration files' names and contents."""
    env = _environment()
    values = {
        **asdict(settings),
        "media_ip": settings.media_ip,
        "advertised": [a for a in (settings.listen_ip, settings.public_ip) if a],
    }
    return {
        "kamailio.cfg": env.get_template("kamailio.cfg.j2").render(values),
        "rtpengine.conf": env.get_template("rtpengine.conf.j2").render(values),
    }


def write(settings: PeerSettings, directory: Path) -> dict[str, Path]:
    """Write the configuration files into ``directory``; their paths by name."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in render(settings).items():
        path = directory / name
        path.write_text(text)
        written[name] = path
    return written


def commands(settings: PeerSettings, directory: Path) -> dict[str, list[str]]:
    """The commands that run each peer in the foreground with the written files."""
    return {
        "rtpengine": [
            "rtpengine",
            f"--config-file={directory / 'rtpengine.conf'}",
            "--foreground",
            "--log-stderr",
            f"--pidfile={Path(settings.run_dir) / 'rtpengine.pid'}",
        ],
        "kamailio": [
            "kamailio",
            "-f",
            str(directory / "kamailio.cfg"),
            "-DD",
            "-E",
            "-P",
            str(Path(settings.run_dir) / "kamailio.pid"),
        ],
    }
