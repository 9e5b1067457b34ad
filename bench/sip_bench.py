"""SIP benchmark: many simultaneous calls through the SIP adapter, and AMD's accuracy.

``python -m bench.sip_bench calls`` runs, inside a loopback-only network namespace it makes
(root), a predictive campaign's worth of calls: SIPp as the customers (answering after a
ring), Kamailio and rtpengine from the project's templates, and 50 agents registered to
Kamailio (one SIPp answering for all of them, echoing their audio). A simple fixed-ratio
pacer dials while the calls that may still answer are fewer than the agents free by then
(``--answer-share`` of the customers answer); each answer is bridged to a free agent;
each bridged call talks for ``--talk`` seconds. It reports the answer-to-agent time (p50,
p99), the CPU time the workers spent per call, each worker's memory, the peak of
simultaneous calls, and the calls lost (a failure the network did not cause).

``python -m bench.sip_bench amd`` generates the labelled recording set (``bench.amd_set``)
and prints the detector's confusion matrix, with callhopper's defaults and with Asterisk's.

Both append their tables to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import sip_profile
from bench.amd_set import generate
from bench.common import append_results, table
from callhopper.domain.calls import (
    AgentLine,
    Answered,
    CallId,
    CallOutcome,
    DialRequest,
    HungUp,
    LinesExhausted,
    Unanswered,
)
from callhopper.telephony.sip import amd
from callhopper.telephony.sip.adapter import AgentUnreachable, SipTelephony
from callhopper.telephony.sip.config import DetectorConfig, TrunkConfig, WorkerConfig
from callhopper.telephony.sip.deploy import PeerSettings, commands, write
from tests.sip.harness import Capture, register_agents

SCENARIOS = Path(__file__).parents[1] / "tests" / "sip" / "scenarios"
INSIDE_ENV = "CALLHOPPER_SIP_BENCH_INSIDE"
CUSTOMER_PORT = 5090
AGENTS_PORT = 5099

# --- calls ----------------------------------------------------------------------------------


def _listening(port: int) -> bool:
    out = subprocess.run(
        ["ss", "-lnut", "sport", "=", f":{port}"], capture_output=True, text=True, check=False
    ).stdout
    return f":{port} " in out


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class CallsReport:
    agents: int
    workers: int
    seconds: float
    dialled: int = 0
    answered: int = 0
    bridged: int = 0
    abandoned: int = 0
    lost: int = 0
    lines_busy: int = 0
    peak_customer_calls: int = 0
    peak_calls: int = 0
    bridge_ms: list[int] = field(default_factory=list)
    answer_to_agent_ms: list[float] = field(default_factory=list)
    worker_cpu_s: float = 0.0
    worker_rss_kb: list[int] = field(default_factory=list)
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    #: ``--profile``: each step's durations (ms), the legs with an INVITE sent again, the
    #: legs seen (see :mod:`bench.sip_profile`).
    profile: tuple[dict[str, list[float]], int, int] | None = None
    #: The machine's 1-minute load average before and after the run.
    load: tuple[float, float] = (0.0, 0.0)


async def _campaign(args: argparse.Namespace, workdir: Path) -> CallsReport:
    config = WorkerConfig(trunk=TrunkConfig(host="127.0.0.1", port=CUSTOMER_PORT))
    telephony = SipTelephony(config, workers=args.workers)
    await telephony.start()
    report = CallsReport(agents=args.agents, workers=args.workers, seconds=args.seconds)
    free = collections.deque(f"agent-{n}" for n in range(1, args.agents + 1))
    talking: dict[CallId, str] = {}
    in_flight: set[CallId] = set()
    answered_at: dict[CallId, float] = {}
    dialled_at: dict[CallId, float] = {}
    talk_ends: dict[CallId, float] = {}
    next_sample = 0.0
    numbers = iter(range(10**9))
    stop_dialling = time.monotonic() + args.seconds
    loop = asyncio.get_running_loop()
    cpu_start = {w.pid: _cpu_s(w.pid) for w in telephony.pool.live()}

    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def bridge(call_id: CallId) -> None:
        if not free:
            report.abandoned += 1
            await telephony.hang_up(call_id)
            return
        agent = free.popleft()
        try:
            await telephony.bridge(call_id, AgentLine(agent, agent))
        except AgentUnreachable:
            report.lost += 1
            free.append(agent)
            await telephony.hang_up(call_id)
            return
        except Exception:  # the customer hung up meanwhile: not a loss of ours
            free.append(agent)
            return
        report.bridged += 1
        report.answer_to_agent_ms.append((time.monotonic() - answered_at[call_id]) * 1000)
        talking[call_id] = agent
        talk_ends[call_id] = time.monotonic() + args.talk
        loop.call_later(args.talk, lambda: spawn(telephony.hang_up(call_id)))

    async def events() -> None:
        async for event in telephony.events():
            if isinstance(event, Answered):
                report.answered += 1
                answered_at[event.call_id] = time.monotonic()
                spawn(bridge(event.call_id))
            elif isinstance(event, Unanswered | HungUp):
                in_flight.discard(event.call_id)
                if isinstance(event, Unanswered):
                    report.outcomes[f"{event.outcome.value} {event.code}"] += 1
                    if event.outcome is CallOutcome.FAILED:
                        report.lost += 1
                else:
                    report.outcomes[f"hung up by {event.by.value}"] += 1
                    if event.by.value == "network":
                        report.lost += 1
                talk_ends.pop(event.call_id, None)
                agent = talking.pop(event.call_id, None)
                if agent is not None:
                    free.append(agent)

    consumer = asyncio.create_task(events())
    while time.monotonic() < stop_dialling:
        now = time.monotonic()
        # A simple predictive pacer: customers answer ``ring`` seconds after the INVITE or
        # not at all, so the calls that may still answer are the younger ones; dial while
        # their expected answers are fewer than the agents free by then.
        live = sum(
            1 for c in in_flight if c not in talking and now - dialled_at[c] < args.ring + 0.5
        )
        ending = sum(1 for t in talk_ends.values() if t - now < args.ring)
        want = int((len(free) + ending) / args.answer_share - live)
        for _ in range(max(0, want)):
            call_id = CallId(f"bench-{next(numbers)}")
            try:
                await telephony.originate(
                    DialRequest(call_id, f"+1555{report.dialled:07d}", "+15550000000", 15)
                )
            except LinesExhausted:
                report.lines_busy += 1
                break
            in_flight.add(call_id)
            dialled_at[call_id] = now
            report.dialled += 1
        report.peak_customer_calls = max(report.peak_customer_calls, len(in_flight))
        report.peak_calls = max(report.peak_calls, len(in_flight) + len(talking))
        if now >= next_sample:
            next_sample = now + 5
            report.worker_rss_kb = [_rss_kb(w.pid) for w in telephony.pool.live()]
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + args.talk + 40
    while in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    report.worker_cpu_s = sum(
        _cpu_s(w.pid) - cpu_start.get(w.pid, 0.0) for w in telephony.pool.live()
    )
    report.bridge_ms = list(telephony.bridge_times_ms)
    report.lost += len(in_flight)
    await telephony.close()
    await consumer
    return report


def _mix(workdir: Path, share: float) -> Path:
    path = workdir / "mix.xml"
    path.write_text((SCENARIOS / "mix.xml").read_text().replace("ANSWER_SHARE", f"{share:g}"))
    return path


def run_calls(args: argparse.Namespace) -> None:
    if os.environ.get(INSIDE_ENV) != "1":
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            raise SystemExit("the SIP benchmark needs root to make a network namespace")
        argv = [sys.executable, "-m", "bench.sip_bench", *sys.argv[1:]]
        env = {**os.environ, INSIDE_ENV: "1"}
        script = 'ip link set lo up && exec "$@"'
        raise SystemExit(
            subprocess.run(
                ["unshare", "--net", "--", "sh", "-c", script, "sh", *argv], env=env
            ).returncode
        )
    for cmd in ("sipp", "kamailio", "rtpengine"):
        if shutil.which(cmd) is None:
            raise SystemExit(f"{cmd} is missing: see docs/telephony.md")
    with tempfile.TemporaryDirectory(prefix="sip-bench-") as tmp:
        workdir = Path(tmp)
        peers = PeerSettings(run_dir=str(workdir), children=4)
        write(peers, workdir)
        cmds = commands(peers, workdir)
        procs: list[subprocess.Popen[bytes]] = []
        log = (workdir / "peers.log").open("wb")
        try:
            rtpengine = subprocess.Popen(cmds["rtpengine"], stdout=log, stderr=log)
            procs.append(rtpengine)
            _wait_port(2223, rtpengine, "rtpengine")
            kamailio = subprocess.Popen(cmds["kamailio"], stdout=log, stderr=log)
            procs.append(kamailio)
            _wait_port(5060, kamailio, "kamailio")
            base = ["sipp", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-t", "u1", "-nostdin",
                    "-rtp_echo", "-max_socket", "2000"]  # fmt: skip
            customers = subprocess.Popen(
                [
                    *base,
                    "-sf",
                    str(_mix(workdir, args.answer_share)),
                    "-p",
                    str(CUSTOMER_PORT),
                    "-mp",
                    "16000",
                    "-d",
                    str(int(args.ring * 1000)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            procs.append(customers)
            agents = subprocess.Popen(
                [
                    *base,
                    "-sf",
                    str(SCENARIOS / "agent.xml"),
                    "-p",
                    str(AGENTS_PORT),
                    "-mp",
                    "26000",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            procs.append(agents)
            _wait_port(CUSTOMER_PORT, customers, "sipp (customers)")
            _wait_port(AGENTS_PORT, agents, "sipp (agents)")
            register_agents(
                [f"agent-{n}" for n in range(1, args.agents + 1)], AGENTS_PORT, peers.domain
            )
            capture = None
            if args.profile:
                ports = (peers.sip_port, AGENTS_PORT, 2223)
                capture = Capture(
                    None,
                    workdir / "signalling.pcap",
                    bpf=" or ".join(f"udp port {p}" for p in ports),
                )
            load_before = os.getloadavg()[0]
            report = asyncio.run(_campaign(args, workdir))
            report.load = (load_before, os.getloadavg()[0])
            if capture is not None:
                capture.stop()
                report.profile = sip_profile.steps(
                    sip_profile.legs(capture.path, peers.sip_port, AGENTS_PORT, 2223)
                )
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait()
            log.close()
    _print_calls(args, report)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _print_calls(args: argparse.Namespace, r: CallsReport) -> None:
    calls = max(1, r.bridged)
    rss = r.worker_rss_kb or [0]
    rows = [
        ["agents / workers", f"{r.agents} / {r.workers}"],
        ["calls dialled / answered / bridged", f"{r.dialled} / {r.answered} / {r.bridged}"],
        ["peak simultaneous customer calls", r.peak_customer_calls],
        ["peak simultaneous calls (customer + agent legs)", r.peak_calls],
        ["answer → agent bridged, p50 / p99 ms (dialer's view)",
         f"{_pct(r.answer_to_agent_ms, 0.5):.0f} / {_pct(r.answer_to_agent_ms, 0.99):.0f}"],
        ["agent leg INVITE → joined, p50 / p99 ms (worker's view)",
         f"{_pct([float(x) for x in r.bridge_ms], 0.5):.0f} / "
         f"{_pct([float(x) for x in r.bridge_ms], 0.99):.0f}"],
        ["worker CPU per bridged call (s)", f"{r.worker_cpu_s / calls:.3f}"],
        ["worker CPU, share of one core over the run", f"{r.worker_cpu_s / r.seconds:.0%}"],
        ["memory per worker, median / max MB",
         f"{statistics.median(rss) / 1024:.0f} / {max(rss) / 1024:.0f}"],
        ["abandoned (no free agent)", r.abandoned],
        ["calls lost", r.lost],
    ]  # fmt: skip
    body = (
        f"`python -m bench.sip_bench calls --agents {args.agents} --workers {args.workers} "
        f"--seconds {args.seconds:g} --answer-share {args.answer_share:g} --ring {args.ring:g} "
        f"--talk {args.talk:g}{' --profile' if args.profile else ''}`, in a loopback-only "
        f"network namespace: {args.answer_share:.0%} "
        f"of the SIPp customers answer after {args.ring:g} s, the others ring out (15 s), "
        f"Kamailio and rtpengine from the templates, {args.agents} agents registered "
        "(one SIPp echoing for all), each bridged call talks "
        f"{args.talk:g} s. Outcomes: {dict(r.outcomes)}. Load average (1 min) before / "
        f"after: {r.load[0]:.2f} / {r.load[1]:.2f} (nice {os.nice(0)}).\n\n"
        + table(["measure", "value"], rows)
    )
    if r.profile is not None:
        durations, resent, legs = r.profile
        body += (
            f"\n\nWhere an agent leg's time goes (`--profile`: the signalling captured on "
            f"the loopback, {legs} legs, {resent} of them with an INVITE sent again):\n\n"
        )
        body += table(
            ["step", "p50 ms", "p99 ms", "max ms"],
            [
                [name, f"{_pct(v, 0.5):.1f}", f"{_pct(v, 0.99):.1f}", f"{max(v, default=0):.1f}"]
                for name, v in durations.items()
            ],
        )
    print(body)
    append_results("sip_bench calls", body)


# --- AMD ------------------------------------------------------------------------------------

ASTERISK = DetectorConfig(
    enabled=True,
    greeting_ms=1500,
    maximum_words=2,
    total_analysis_ms=5000,
    after_greeting_silence_ms=800,
)


def _confusion(recordings: list[tuple[str, str, bytes]], config: DetectorConfig) -> str:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    times: list[int] = []
    for _label, kind, pcm in recordings:
        decision = amd.classify(pcm, config, amd.webrtc_vad(config.vad_mode))
        counts[(kind, decision.verdict.value)] += 1
        times.append(decision.after_ms)
    kinds = sorted({k for k, _ in counts}, key=lambda k: (not k.startswith("person"), k))
    rows = [[k, *(counts[(k, v)] for v in ("person", "machine", "unknown"))] for k in kinds]
    people = sum(n for (k, _), n in counts.items() if k.startswith("person"))
    machines = sum(n for (k, _), n in counts.items() if k.startswith("machine"))
    person_as_machine = sum(
        n for (k, v), n in counts.items() if k.startswith("person") and v == "machine"
    )
    machine_as_machine = sum(
        n for (k, v), n in counts.items() if k.startswith("machine") and v == "machine"
    )
    rows.append(
        [
            "**people**",
            *(
                sum(n for (k, vv), n in counts.items() if k.startswith("person") and vv == v)
                for v in ("person", "machine", "unknown")
            ),
        ]
    )
    rows.append(
        [
            "**machines**",
            *(
                sum(n for (k, vv), n in counts.items() if k.startswith("machine") and vv == v)
                for v in ("person", "machine", "unknown")
            ),
        ]
    )
    return (
        table(["recording kind", "→ person", "→ machine", "→ unknown"], rows)
        + f"\n\nPeople taken for machines: {person_as_machine}/{people} "
        f"= {person_as_machine / max(1, people):.1%} (target ≤ 2%); machines detected: "
        f"{machine_as_machine}/{machines} = {machine_as_machine / max(1, machines):.0%}; "
        f"decision time p50 {_pct([float(t) for t in times], 0.5):.0f} ms, "
        f"max {max(times)} ms."
    )


def run_amd(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="amd-set-") as tmp:
        recordings = []
        for rec in generate(Path(tmp), per_kind=args.per_kind, seed=args.seed):
            with wave.open(str(rec.path)) as w:
                recordings.append((rec.label, rec.kind, w.readframes(w.getnframes())))
    d = DetectorConfig(enabled=True)
    body = (
        f"`python -m bench.sip_bench amd --per-kind {args.per_kind} --seed {args.seed}`: "
        f"{len(recordings)} espeak-ng recordings (bench/amd_set.py; the defaults were tuned "
        "on seeds 1 and 2, this seed is held out).\n\n"
        f"callhopper's defaults (greeting {d.greeting_ms} ms, {d.maximum_words} words, "
        f"after-greeting silence {d.after_greeting_silence_ms} ms, analysis "
        f"{d.total_analysis_ms} ms, beep detection):\n\n"
        + _confusion(recordings, d)
        + "\n\nAsterisk's AMD defaults (greeting 1500 ms, 2 words, analysis 5000 ms), same "
        "rules and VAD:\n\n" + _confusion(recordings, ASTERISK)
    )
    print(body)
    append_results("sip_bench amd", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="what", required=True)
    calls = sub.add_parser("calls", help="simultaneous calls through the SIP adapter")
    calls.add_argument("--agents", type=int, default=50)
    calls.add_argument("--workers", type=int, default=80)
    calls.add_argument("--seconds", type=float, default=60.0, help="how long to dial")
    calls.add_argument("--answer-share", type=float, default=0.3, help="customers who answer")
    calls.add_argument("--ring", type=float, default=4.0, help="seconds before customers answer")
    calls.add_argument("--talk", type=float, default=20.0, help="seconds bridged")
    calls.add_argument(
        "--profile", action="store_true", help="capture the signalling: where agent legs wait"
    )
    calls.set_defaults(run=run_calls)
    amd_parser = sub.add_parser("amd", help="the detector's confusion matrix")
    amd_parser.add_argument("--per-kind", type=int, default=50)
    amd_parser.add_argument("--seed", type=int, default=11)
    amd_parser.set_defaults(run=run_amd)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
