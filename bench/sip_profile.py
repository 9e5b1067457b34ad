"""Where an agent leg's time goes, from a capture of the signalling on the loopback.

``python -m bench.sip_bench calls --profile`` runs dumpcap on the namespace's ``lo`` for
the agents' SIP (Kamailio's port and the agents' SIPp) and rtpengine's control port, then
splits each agent leg (an INVITE a worker sends to Kamailio) into its steps:

* Kamailio before rtpengine: the worker's INVITE reaches Kamailio → Kamailio's offer
  reaches rtpengine;
* rtpengine, offer: the offer → rtpengine's reply;
* Kamailio after rtpengine: the reply → the INVITE forwarded to the agent;
* the agent: the forwarded INVITE → the agent's 200 OK;
* Kamailio and rtpengine, answer: the agent's 200 → the 200 forwarded to the worker;
* in all: the worker's first INVITE → the 200 it gets; and how many legs needed an INVITE
  sent again (SIP's 500 ms retransmission: a lost or unanswered datagram).

The worker's own share is the rest of the worker's view (bridge command → joined).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.sip.audio import udp_packets

_CALL_ID = re.compile(rb"^(?:Call-ID|i):\s*(\S+)", re.M | re.I)
_CSEQ = re.compile(rb"^CSeq:\s*\d+\s+(\w+)", re.M | re.I)
_NG_CALL_ID = re.compile(rb"7:call-id(\d+):")
_NG_COMMAND = re.compile(rb"7:command(\d+):")


@dataclass
class Leg:
    invites_in: list[float] = field(default_factory=list)
    offer: float | None = None
    offer_reply: float | None = None
    forwarded: float | None = None
    agent_ok: float | None = None
    answer: float | None = None
    answer_reply: float | None = None
    ok_to_worker: float | None = None


def legs(pcap: Path, proxy_port: int, agents_port: int, ng_port: int) -> dict[bytes, Leg]:
    """The agent legs in ``pcap``, by Call-ID (Kamailio keeps it on the forwarded INVITE;
    rtpengine's commands carry it too)."""
    found: dict[bytes, Leg] = {}
    cookies: dict[bytes, tuple[bytes, str]] = {}
    for t, sport, dport, payload in udp_packets(pcap):
        if ng_port in (sport, dport):
            cookie, _, body = payload.partition(b" ")
            if dport == ng_port:
                command = _ng_string(body, _NG_COMMAND)
                call_id = _ng_string(body, _NG_CALL_ID)
                if call_id in found and command in (b"offer", b"answer"):
                    cookies[cookie] = (call_id, command.decode())
                    leg = found[call_id]
                    if command == b"offer" and leg.offer is None:
                        leg.offer = t
                    elif command == b"answer" and leg.answer is None:
                        leg.answer = t
            elif cookie in cookies:
                call_id, kind = cookies.pop(cookie)
                leg = found[call_id]
                if kind == "offer" and leg.offer_reply is None:
                    leg.offer_reply = t
                elif kind == "answer" and leg.answer_reply is None:
                    leg.answer_reply = t
            continue
        match = _CALL_ID.search(payload)
        cseq = _CSEQ.search(payload)
        if match is None or cseq is None or cseq.group(1) != b"INVITE":
            continue
        call_id = match.group(1)
        first = payload.split(b"\r\n", 1)[0]
        is_request = first.startswith(b"INVITE ")
        is_ok = first.startswith(b"SIP/2.0 200")
        if is_request and dport == proxy_port and sport != agents_port:
            found.setdefault(call_id, Leg()).invites_in.append(t)
        leg = found.get(call_id)
        if leg is None:
            continue
        if is_request and dport == agents_port and leg.forwarded is None:
            leg.forwarded = t
        elif is_ok and sport == agents_port and leg.agent_ok is None:
            leg.agent_ok = t
        elif is_ok and sport == proxy_port and dport != agents_port and leg.ok_to_worker is None:
            leg.ok_to_worker = t
    return found


def _ng_string(body: bytes, key: re.Pattern[bytes]) -> bytes:
    """The string value of a key in a bencoded ng message (``7:call-id12:…``)."""
    match = key.search(body)
    if match is None:
        return b""
    start = match.end()
    return body[start : start + int(match.group(1))]


def _ms(a: float | None, b: float | None) -> float | None:
    return (b - a) * 1000 if a is not None and b is not None else None


def steps(found: dict[bytes, Leg]) -> tuple[dict[str, list[float]], int, int]:
    """Each step's durations (ms) over the complete legs, the legs whose INVITE was sent
    again, and the complete legs."""
    names = {
        "Kamailio before rtpengine": lambda g: _ms(g.invites_in[0], g.offer),
        "rtpengine, offer": lambda g: _ms(g.offer, g.offer_reply),
        "Kamailio after rtpengine": lambda g: _ms(g.offer_reply, g.forwarded),
        "the agent (SIPp) answers": lambda g: _ms(g.forwarded, g.agent_ok),
        "Kamailio and rtpengine, answer": lambda g: _ms(g.agent_ok, g.ok_to_worker),
        "worker's INVITE → its 200 OK, in all": lambda g: _ms(g.invites_in[0], g.ok_to_worker),
    }
    complete = [g for g in found.values() if g.invites_in and g.ok_to_worker is not None]
    out: dict[str, list[float]] = {name: [] for name in names}
    for leg in complete:
        for name, step in names.items():
            value = step(leg)
            if value is not None:
                out[name].append(value)
    resent = sum(1 for g in complete if len(g.invites_in) > 1)
    return out, resent, len(complete)
