"""The CPU cost of ``callhopper simulate`` per dial: this tree against a baseline tree.

Runs ``python -m callhopper.cli simulate`` (the default floor: 50 agents, 20,000 records,
predictive) in child processes, alternately with this tree's ``src`` and the baseline's
(``--baseline-src``, a ``src`` folder of another checkout, e.g. from ``git archive``), and
reports the CPU seconds (user + system) each run used per dial, and their ratio. CPU time,
not wall time: the machines are shared, and a loaded machine stretches wall time only.

    python -m bench simulate --baseline-src /tmp/base/src --hours 0.5 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import BENCH_DIR, append_results, table

THIS_SRC = BENCH_DIR.parent / "src"


def run_once(src: Path, args: list[str]) -> tuple[float, int]:
    """One ``simulate`` in a child process on ``src``: (CPU seconds, dials)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="simulate-bench-") as folder:
        command = [sys.executable, "-m", "callhopper.cli", "simulate", *args]
        command += ["--chart", str(Path(folder) / "chart.html")]
        output = subprocess.run(
            command,
            env={**os.environ, "PYTHONPATH": str(src)},
            capture_output=True,
            text=True,
            check=True,
            cwd=folder,
        ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"^dials\s+(\d+)", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no dial count in:\n{output}")
    return cpu, int(found.group(1))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench simulate")
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--hours", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args(argv)
    args = ["--hours", f"{options.hours:g}"]
    rows = []
    totals = {"baseline": [0.0, 0], "this tree": [0.0, 0]}
    load = os.getloadavg()[0]
    for n in range(options.rounds):
        for name, src in (("baseline", options.baseline_src), ("this tree", THIS_SRC)):
            cpu, dials = run_once(src, args)
            totals[name][0] += cpu
            totals[name][1] += int(dials)
            rows.append([n + 1, name, dials, f"{cpu:.1f}", f"{1000 * cpu / dials:.2f}"])
            print(rows[-1], flush=True)
    per_dial = {name: cpu / dials for name, (cpu, dials) in totals.items()}
    ratio = per_dial["baseline"] / per_dial["this tree"]
    body = table(["round", "tree", "dials", "CPU s", "CPU ms per dial"], rows)
    summary = (
        f"`callhopper simulate` at its default floor (50 agents, 20,000 records, predictive), "
        f"{options.hours:g} h simulated, SQLite; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs before the run.\n\n{body}\n\n"
        f"* this tree: {1000 * per_dial['this tree']:.2f} ms CPU per dial against "
        f"{1000 * per_dial['baseline']:.2f} for the baseline: **{ratio:.2f}x faster**\n"
        f"* command: `python -m bench simulate --baseline-src <baseline>/src --hours "
        f"{options.hours:g} --rounds {options.rounds}`"
    )
    print(summary)
    append_results("simulate_bench", summary)


if __name__ == "__main__":
    main(sys.argv[1:])
