"""Audio for the SIP tests: speech made with espeak-ng, RTP taken from a capture, and a
measure of how alike two recordings are."""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from array import array
from collections.abc import Iterator
from pathlib import Path

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz


def speak(
    text: str, path: Path, *, voice: str = "en-us", speed: int = 160, pad_s: float = 0.0
) -> Path:
    """``text`` spoken by espeak-ng, as 8 kHz 16-bit mono WAV at ``path``, followed by
    ``pad_s`` seconds of silence."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            str(RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "pad",
            "0",
            str(pad_s),
        ],
        check=True,
    )
    raw.unlink()
    return path


def read_wav(path: Path) -> array[int]:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2), path
        return array("h", w.readframes(w.getnframes()))


def write_wav(path: Path, samples: array[int]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def _ulaw_table() -> list[int]:
    table = []
    for byte in range(256):
        u = ~byte & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table.append(-magnitude if sign else magnitude)
    return table


ULAW = _ulaw_table()


def udp_packets(pcap: Path) -> Iterator[tuple[float, int, int, bytes]]:
    """(time, source port, destination port, payload) of each IPv4 UDP packet in a classic
    pcap file (the link layers dumpcap writes for ``lo``)."""
    data = pcap.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link_header = {1: 14, 113: 16, 276: 20}[struct.unpack(endian + "I", data[20:24])[0]]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl_len = struct.unpack(endian + "III", data[offset : offset + 12])
        frame = data[offset + 16 : offset + 16 + incl_len]
        offset += 16 + incl_len
        ip = frame[link_header:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        sport, dport = struct.unpack("!HH", udp[:4])
        yield sec + frac / (1e9 if nano else 1e6), sport, dport, udp[8:]


def rtp_audio(pcap: Path, dst_port: int) -> array[int]:
    """The PCMU audio of the RTP packets sent to UDP ``dst_port`` in a classic pcap file,
    in sequence-number order."""
    packets: dict[int, bytes] = {}
    for _, _, port, rtp in udp_packets(pcap):
        if port != dst_port or len(rtp) < 12 or rtp[0] >> 6 != 2 or rtp[1] & 0x7F != 0:
            continue
        header = 12 + 4 * (rtp[0] & 0x0F)
        packets[struct.unpack("!H", rtp[2:4])[0]] = rtp[header:]
    # Sequence numbers may wrap; the tests' captures are short enough to sort directly.
    return array("h", (ULAW[b] for seq in sorted(packets) for b in packets[seq]))


def _envelope(samples: array[int]) -> list[float]:
    return [
        math.sqrt(sum(s * s for s in samples[i : i + FRAME]) / FRAME)
        for i in range(0, len(samples) - FRAME + 1, FRAME)
    ]


def _corr(a: list[float] | array[int], b: list[float] | array[int]) -> float:
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    ma = sum(a[:n]) / n
    mb = sum(b[:n]) / n
    num = sum((a[i] - ma) * (b[i] - mb) for i in range(n))
    da = math.sqrt(sum((a[i] - ma) ** 2 for i in range(n)))
    db = math.sqrt(sum((b[i] - mb) ** 2 for i in range(n)))
    return num / (da * db) if da and db else 0.0


CHUNK = RATE // 4  # 250 ms
#: The share of voiced quarter-seconds that must arrive intact through a jitter buffer. Jitter
#: buffers drop or insert 10-20 ms now and then (more often on a loaded machine), spoiling the
#: quarter-second each cut falls in; a wrong or missing stream scores near 0.
INTACT = 0.75
#: How far a jitter buffer may have moved the audio between two chunks, in samples.
DRIFT = 480


def similarity(source: array[int], received: array[int]) -> float:
    """The share of ``source``'s voiced quarter-seconds found intact in ``received`` (which
    may start and end with other audio): each chunk must correlate above 0.9 with the
    received samples at some alignment near the previous chunk's. Jitter buffers drop and
    insert 10-20 ms on the way, so the alignment is followed chunk by chunk rather than fixed
    once. G.711 through a conference bridge scores 1.0; different speech scores near 0."""
    env_s, env_r = _envelope(source), _envelope(received)
    if len(env_r) < len(env_s) // 2:
        return 0.0
    lag = FRAME * max(
        range(max(1, len(env_r) - len(env_s) // 2)),
        key=lambda frame: _corr(env_s, env_r[frame:]),
    )
    loudness = max(env_s)
    voiced = found = 0
    for start in range(0, len(source) - CHUNK + 1, CHUNK):
        chunk = source[start : start + CHUNK]
        if max(_envelope(chunk)) < loudness / 10:
            continue
        voiced += 1

        def score(lag: int, chunk: array[int] = chunk, start: int = start) -> float:
            at = start + lag
            return _corr(chunk, received[at : at + CHUNK]) if at >= 0 else 0.0

        if start + lag + CHUNK > len(received):
            continue  # the recording ended: the chunk counts as lost
        if score(lag) < 0.9:
            probe = chunk[: CHUNK // 5]
            lag = max(
                range(max(-start, lag - DRIFT), lag + DRIFT + 1),
                key=lambda lag: _corr(probe, received[start + lag : start + lag + len(probe)]),
            )
        found += score(lag) >= 0.9
    return found / voiced if voiced else 0.0


def envelope_similarity(source: array[int], received: array[int]) -> float:
    """The correlation of the 20 ms loudness envelopes at the best alignment: the same words
    at the same pace, whatever a browser's echo canceller, noise suppressor and gain control
    did to the waveform. The same speech scores above 0.8; other speech or silence, below."""
    env_s, env_r = _envelope(source), _envelope(received)
    voiced = max(i for i, x in enumerate(env_s) if x > max(env_s) / 10) + 1
    env_s = env_s[:voiced]
    if len(env_r) < voiced:
        return 0.0
    return max(_corr(env_s, env_r[lag : lag + voiced]) for lag in range(len(env_r) - voiced + 1))
