"""Pacing policies against each other and against the best possible, on simulated days.

    python -m bench pacing [--quick] [--family M B D] [--agents N …] [--handle-s H …]
        [--seeds 10] [--processes 2] [--budget-min M] [--no-record]

In one process, every workload is run through every policy with the same random numbers
(the n-th call placed on seed s has the same fate whatever the policy):

* (a) progressive, one call in flight per free agent;
* (b) a fixed dial level, tuned in hindsight: the highest level (to 0.05) with no day above
  the abandon target on this workload's seeds;
* (c) VICIdial's ADAPT_TAPERED rule, re-implemented (``bench/pacing_policies.py``);
* (d) callhopper's predictive pacer, online, with its defaults, starting each day cold;
* (e) on the Markov workloads, the optimum of the constrained Markov decision problem
  (``bench/pacing_lp.py``): the best a non-anticipating dialer can do.

Workloads: M (exponential ring-to-resolution, mean 15 s; person share p; exponential
handle time H; N agents; no connect grace), B (a realistic cold list, 2-s grace), D (B with
the answer share falling from 20% to 8% over the day, and a third of the agents away for
an hour at midday). The table gives, per workload and policy, occupancy (talk and wrap-up
over logged-in time), talk minutes per agent-hour, the abandon rate per day (mean, worst),
the share of days above the target, and the targets the pacer misses, by how much.

Workloads run in ``--processes`` worker processes (each workload whole in one, so its
policies see the same random numbers); with ``--budget-min``, the workloads not finished
in that time are stopped and listed as not run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

from bench.common import append_results, table
from bench.pacing_lp import cached_upper_bound
from bench.pacing_policies import AdaptTaperedPacer, FixedLevelPacer
from bench.pacing_sim import DayResult, Workload, simulate_day
from callhopper.domain.pacing import Pacer, PacingTarget, PredictivePacer, ProgressivePacer
from callhopper.telephony.simulator import (
    Constant,
    Exponential,
    LogNormal,
    SimulatorParams,
)

TARGET = 0.03
HOUR_S = 3600.0


def markov(p: float, handle_s: float, agents: int) -> Workload:
    params = SimulatorParams(
        person_share=p,
        machine_share=0.0,
        fast_fail_share=1.0 - p,
        busy_share_of_fast_fails=0.0,
        setup_s=0.0,
        answer_time=Exponential(15.0),
        fast_fail_time=Exponential(15.0),
        talk_time=Exponential(handle_s),
        wrap_time=Constant(0.0),
    )
    label = f"M p={p:.2f} H={handle_s:g} N={agents}"
    return Workload("M", label, agents, params, ring_timeout_s=1e6, grace_s=0.0)


def cold_list(agents: int, *, drift: bool = False) -> Workload:
    params = SimulatorParams(
        person_share=0.15,
        machine_share=0.25,
        fast_fail_share=0.15,
        talk_time=LogNormal(mean_s=150.0, cv=1.0),
        wrap_time=Constant(20.0),
    )
    if not drift:
        return Workload("B", f"B N={agents}", agents, params, ring_timeout_s=25.0, grace_s=2.0)
    return Workload(
        "D",
        f"D N={agents}",
        agents,
        params,
        ring_timeout_s=25.0,
        grace_s=2.0,
        drift=(0.20, 0.08),
        absence=(3.5 * HOUR_S, 4.5 * HOUR_S, 1 / 3),
    )


def workloads(families: Sequence[str], quick: bool) -> list[Workload]:
    out: list[Workload] = []
    if "M" in families:
        ps: tuple[float, ...] = (0.10, 0.20, 0.35)
        hs: tuple[float, ...] = (60.0, 150.0, 300.0)
        ns: tuple[int, ...] = (10, 20, 50, 100)
        if quick:
            ps, hs, ns = (0.10, 0.35), (60.0, 300.0), (10, 20, 50)
        out += [markov(p, h, n) for n in ns for h in hs for p in ps]
    sizes = (10, 50) if quick else (10, 20, 50)
    if "B" in families:
        out += [cold_list(n) for n in sizes]
    if "D" in families:
        out += [cold_list(n, drift=True) for n in sizes]
    return out


@dataclass
class Outcome:
    """One policy's days on one workload."""

    days: list[DayResult]
    note: str = ""

    @property
    def occupancy(self) -> float:
        return sum(d.occupancy for d in self.days) / len(self.days)

    @property
    def talk(self) -> float:
        return sum(d.talk_min_per_agent_hour for d in self.days) / len(self.days)

    @property
    def abandon_mean(self) -> float:
        return sum(d.abandon_rate for d in self.days) / len(self.days)

    @property
    def abandon_worst(self) -> float:
        return max(d.abandon_rate for d in self.days)

    @property
    def days_over(self) -> float:
        return sum(d.abandon_rate > TARGET for d in self.days) / len(self.days)

    @property
    def aggregate_abandon(self) -> float:
        persons = sum(d.persons for d in self.days)
        return sum(d.abandons for d in self.days) / persons if persons else 0.0


def run(workload: Workload, make: Callable[[], Pacer], seeds: Sequence[int]) -> Outcome:
    return Outcome([simulate_day(workload, make(), seed) for seed in seeds])


def predictive(workload: Workload) -> Callable[[], Pacer]:
    target = PacingTarget(
        abandon_rate=TARGET,
        connect_grace_s=workload.grace_s,
        ring_timeout_s=min(workload.ring_timeout_s, 600.0),
    )
    return lambda: PredictivePacer(target)


def tuned_fixed_level(workload: Workload, seeds: Sequence[int]) -> Outcome:
    """The highest dial level (to 0.05) with no day above the target: bisection on the
    first three seeds (a level is rejected at its first day above the target), then the
    level found is checked on every seed and lowered by 0.05 until it passes.

    Every day simulated is remembered (the final check reuses the bisection's days), and
    the seeds that had a day above the target are tried first: whether a level passes
    does not depend on the order its days are tried in, so the level found is the same,
    with fewer days simulated."""
    days: dict[tuple[float, int], DayResult] = {}
    failed: list[int] = []

    def day(level: float, seed: int) -> DayResult:
        key = (level, seed)
        if key not in days:
            days[key] = simulate_day(workload, FixedLevelPacer(level), seed)
        return days[key]

    def passes(level: float, days_of: Sequence[int]) -> Outcome | None:
        for seed in sorted(days_of, key=lambda s: s not in failed):
            if day(level, seed).abandon_rate > TARGET:
                if seed not in failed:
                    failed.append(seed)
                return None
        return Outcome([day(level, seed) for seed in days_of], f"level {level:.2f}")

    low, high = 1.0, 4.0
    while high - low > 0.05:
        mid = round((low + high) / 2, 3)
        if passes(mid, seeds[:3]) is None:
            high = mid
        else:
            low = mid
    while True:
        outcome = passes(low, seeds)
        if outcome is not None:
            return outcome
        assert low > 1.0, "a dial level of 1 abandons no call"
        low = max(1.0, round(low - 0.05, 3))


def compare(workload: Workload, seeds: Sequence[int]) -> dict[str, Outcome]:
    outcomes = {
        "a progressive": run(workload, ProgressivePacer, seeds),
        "b fixed level": tuned_fixed_level(workload, seeds),
        "c ADAPT_TAPERED": run(workload, AdaptTaperedPacer, seeds),
        "d callhopper": run(workload, predictive(workload), seeds),
    }
    if workload.family == "M":
        p = workload.params.person_share
        handle = workload.params.talk_time.mean
        bound = cached_upper_bound(workload.agents, p, handle, TARGET)
        day = DayResult(
            logged_in_s=1.0,
            talk_s=bound.occupancy,
            persons=1_000_000,
            abandons=round(bound.abandon_rate * 1_000_000),
        )
        outcomes["e LP optimum"] = Outcome([day], f"LP, C={bound.truncation}")
    return outcomes


def misses(workload: Workload, outcomes: dict[str, Outcome]) -> list[str]:
    """The targets the pacer (d) misses on this workload, with by how much."""
    d = outcomes["d callhopper"]
    out = []
    if workload.family in ("M", "B") and d.days_over > 0:
        out.append(f"days over {TARGET:.0%}: {d.days_over:.0%} (target none)")
    if workload.family == "D":
        if d.days_over > 0.05:
            out.append(f"days over {TARGET:.0%}: {d.days_over:.0%} (target <= 5%)")
        if d.aggregate_abandon > TARGET:
            out.append(f"aggregate abandon {d.aggregate_abandon:.2%} (target <= 3%)")
    if workload.family == "M" and workload.agents >= 20:
        ratio = d.occupancy / outcomes["e LP optimum"].occupancy
        if ratio < 0.95:
            out.append(f"d/e {ratio:.3f} (target >= 0.95)")
    if workload.family == "B":
        ratio = d.occupancy / outcomes["b fixed level"].occupancy
        if ratio < 0.95:
            out.append(f"d/b {ratio:.3f} (target >= 0.95)")
        gain = d.talk - outcomes["a progressive"].talk
        if gain < 10:
            out.append(f"talk gain over a {gain:.1f} min/agent-h (target >= 10)")
    c = outcomes["c ADAPT_TAPERED"]
    if d.occupancy <= c.occupancy and d.days_over >= c.days_over:
        out.append(f"d does not beat c: occupancy {d.occupancy:.3f} vs {c.occupancy:.3f}")
    return out


def rows_for(workload: Workload, outcomes: dict[str, Outcome]) -> list[list[object]]:
    d = outcomes["d callhopper"]
    reference = "e LP optimum" if workload.family == "M" else "b fixed level"
    rows: list[list[object]] = []
    for name, o in outcomes.items():
        ratio = ""
        if name.startswith("d"):
            ratio = f"d/{reference[0]} {d.occupancy / outcomes[reference].occupancy:.3f}"
        if name.startswith("d") and workload.family == "D":
            ratio += f"; 30-day {d.aggregate_abandon:.2%}"
        measured = name != "e LP optimum"
        rows.append(
            [
                workload.label,
                name + (f" ({o.note})" if o.note else ""),
                f"{o.occupancy:.3f}",
                f"{o.talk:.1f}",
                f"{o.abandon_mean:.2%}",
                f"{o.abandon_worst:.2%}" if measured else "",
                f"{o.days_over:.0%}" if measured else "",
                ratio,
                "; ".join(misses(workload, outcomes)) if name.startswith("d") else "",
            ]
        )
    return rows


HEADERS = [
    "workload",
    "policy",
    "occupancy",
    "talk min/agent-h",
    "abandon/day mean",
    "worst day",
    "days > 3%",
    "ratio",
    "targets missed by (d)",
]


def _urgency(workload: Workload) -> tuple[int, int]:
    """The order workloads are started in, so that a run cut short by its budget has the
    ones the targets name first: M with 20 agents, B, D, M with 50 then 100 agents (the
    bound's target is on N >= 20; the largest take longest), and M with 10 agents last."""
    if workload.family != "M":
        return (1, "BD".index(workload.family))
    if workload.agents == 20:
        return (0, 0)
    return (2 if workload.agents > 20 else 3, workload.agents)


def _workload_rows(workload: Workload, count: int) -> tuple[list[list[object]], float]:
    """One workload through every policy (in a worker process): its rows and seconds."""
    started = time.perf_counter()
    rows = rows_for(workload, compare(workload, list(range(1, count + 1))))
    return rows, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer workloads and seeds")
    parser.add_argument("--family", nargs="+", default=["M", "B", "D"], choices="MBD")
    parser.add_argument("--seeds", type=int, default=None, help="days per workload")
    parser.add_argument("--agents", type=int, nargs="+", help="only workloads of these sizes")
    parser.add_argument(
        "--handle-s", type=float, nargs="+", help="only M workloads of these handle times"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--budget-min", type=float, help="stop the workloads unfinished then")
    parser.add_argument("--no-record", action="store_true", help="do not append RESULTS.md")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    chosen = [
        w
        for w in workloads(args.family, args.quick)
        if (not args.agents or w.agents in args.agents)
        and (not args.handle_s or (w.family == "M" and w.params.talk_time.mean in args.handle_s))
    ]
    done: dict[str, list[list[object]]] = {}
    pool = ProcessPoolExecutor(max_workers=max(1, args.processes))
    futures: dict[Future[tuple[list[list[object]], float]], Workload] = {}
    for workload in sorted(chosen, key=_urgency):
        count = args.seeds or (3 if args.quick else (30 if workload.family == "D" else 10))
        futures[pool.submit(_workload_rows, workload, count)] = workload
    pending = set(futures)
    deadline = None if args.budget_min is None else started + 60 * args.budget_min
    while pending:
        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
        finished, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        if not finished:
            break  # out of budget
        for future in finished:
            rows, seconds = future.result()
            done[futures[future].label] = rows
            print(table(HEADERS, rows), f"\n({seconds:.0f} s)", flush=True)
    not_run = [futures[f].label for f in pending]
    if pending:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # the workers this run started
    pool.shutdown(wait=True, cancel_futures=True)
    rows = [row for w in chosen if w.label in done for row in done[w.label]]
    body = table(HEADERS, rows)
    if not_run:
        body += "\n\nNot run (out of the time budget): " + ", ".join(not_run) + "."
    elapsed = time.perf_counter() - started
    print("\n" + body + f"\n\n{elapsed / 60:.1f} minutes")
    if not args.no_record:
        command = "python -m bench.pacing_bench " + " ".join(argv)
        append_results("Pacing policies", f"`{command.strip()}` ({elapsed / 60:.0f} min)\n\n{body}")


if __name__ == "__main__":
    main()
