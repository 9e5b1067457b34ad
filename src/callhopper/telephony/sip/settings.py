"""The SIP adapter's settings, read from ``CALLHOPPER_SIP_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from callhopper.domain.calls import DEFAULT_AGENT_SIP_DOMAIN
from callhopper.telephony.sip.config import (
    AgentProxyConfig,
    CallerIdHeader,
    DetectorConfig,
    Transport,
    TrunkConfig,
    WorkerConfig,
)
from callhopper.telephony.sip.deploy import PeerSettings


class SipSettings(BaseSettings):
    """Each field ``x`` reads ``CALLHOPPER_SIP_X`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="CALLHOPPER_SIP_", extra="ignore")

    trunk_host: str = Field("127.0.0.1", description="The carrier's SIP server.")
    trunk_port: int = Field(5060, ge=1, le=65535)
    trunk_transport: Transport = Transport.UDP
    trunk_username: str = Field("", description="Digest user name, if the carrier asks.")
    trunk_password: str = Field("", description="Digest password, if the carrier asks.")
    trunk_from_domain: str = Field("", description="Domain of From/PAI (default: the host).")
    caller_id_header: CallerIdHeader = CallerIdHeader.BOTH
    dial_prefix: str = ""
    workers: int = Field(
        25, ge=1, description="Worker processes; each carries 2 customer calls at once."
    )
    bind_address: str = Field("127.0.0.1", description="Address the workers' SIP/RTP bind to.")
    domain: str = Field(DEFAULT_AGENT_SIP_DOMAIN, description="The SIP domain agents register in.")
    proxy_host: str = Field("127.0.0.1", description="Kamailio, where agents register.")
    proxy_port: int = Field(5060, ge=1, le=65535)
    public_ip: str = Field("", description="The address agents reach Kamailio at, if different.")
    ws_port: int = Field(8088, ge=1, le=65535)
    wss_port: int = Field(8443, ge=1, le=65535)
    tls: bool = Field(False, description="Serve WSS (Kamailio's tls.cfg names the certificate).")
    agent_password: str = Field("", description="Password agents register with (empty: none).")
    detect_machines: bool = Field(False, description="Answering-machine detection on answers.")
    recordings_dir: str = Field("", description="Where call recordings go, for calls that ask.")

    def worker_config(self) -> WorkerConfig:
        return WorkerConfig(
            trunk=TrunkConfig(
                host=self.trunk_host,
                port=self.trunk_port,
                transport=self.trunk_transport,
                username=self.trunk_username,
                password=self.trunk_password,
                from_domain=self.trunk_from_domain,
                caller_id_header=self.caller_id_header,
                dial_prefix=self.dial_prefix,
            ),
            agents=AgentProxyConfig(host=self.proxy_host, port=self.proxy_port, domain=self.domain),
            detector=DetectorConfig(enabled=self.detect_machines),
            bind_address=self.bind_address,
            recordings_dir=self.recordings_dir,
        )

    def peer_settings(self, run_dir: str) -> PeerSettings:
        return PeerSettings(
            domain=self.domain,
            listen_ip=self.proxy_host,
            public_ip=self.public_ip,
            sip_port=self.proxy_port,
            ws_port=self.ws_port,
            wss_port=self.wss_port,
            tls=self.tls,
            dialer_network=f"{self.bind_address}/32",
            agent_password=self.agent_password,
            run_dir=run_dir,
        )
