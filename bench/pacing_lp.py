"""The upper bound of the pacing benchmark on the Markov workloads (M): the best occupancy
any non-anticipating dialer can reach with the abandon rate at most the target, as the
optimum of a constrained Markov decision problem solved as a linear program.

The model (everything exponential, so counts are the whole state):

* state (b, c): b agents busy (talk and wrap-up together) out of N, c calls in flight;
* each busy agent finishes at rate mu = 1/H; each call in flight resolves at rate nu = 1/R
  (R = 15 s), answered by a person with probability p;
* a person who answers when b < N is connected (b+1, c-1); when b = N the call is
  abandoned (N, c-1) — the M workloads have no connect grace;
* the decision: in any state the dialer may place a call, which takes no time: (b, c) →
  (b, c+1). It knows the state and the parameters, not the future outcomes.

Occupation-measure LP (the standard formulation of an average-reward constrained MDP;
the balance rows are those of the chain uniformised at rate N mu + C nu, divided through by
that rate): variables x(b,c) ≥ 0, the long-run share of time spent in (b,c) without
dialing, and u(b,c) ≥ 0, the rate of dialing in (b,c) (instantaneous jumps, carrying flow
but no time). For every state, flow in = flow out:

    Σ_{s'} x(s') q(s' → s) + u(b, c-1) = x(b,c) (b mu + c nu) + u(b,c)

with Σ x = 1, the abandon constraint

    Σ_c x(N,c) c nu p ≤ alpha Σ_{b,c} x(b,c) c nu p

(abandoned person answers per unit time at most alpha times all person answers), and the
objective max Σ x(b,c) b/N (occupancy). In-flight calls are truncated at C, chosen well
above what sustaining N busy agents needs; the solver's mass near C is checked and C
doubled when it matters.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

RESOLVE_MEAN_S = 15.0


CACHE = Path(__file__).parent / "data" / "pacing_lp.json"


@dataclass(frozen=True)
class Bound:
    occupancy: float
    abandon_rate: float
    truncation: int
    seconds: float


def cached_upper_bound(agents: int, person_share: float, handle_s: float, target: float) -> Bound:
    """:func:`upper_bound`, remembered in ``bench/data/pacing_lp.json`` (the largest LPs
    take minutes; the bound depends only on these four numbers)."""
    key = f"{agents},{person_share},{handle_s},{target}"
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key not in cache:
        cache[key] = asdict(upper_bound(agents, person_share, handle_s, target))
        CACHE.parent.mkdir(exist_ok=True)
        # Re-read before writing: another run may have added bounds meanwhile.
        fresh = json.loads(CACHE.read_text()) if CACHE.exists() else {}
        CACHE.write_text(json.dumps(fresh | cache, indent=1))
    return Bound(**cache[key])


def upper_bound(agents: int, person_share: float, handle_s: float, target: float) -> Bound:
    """The LP optimum for N ``agents``, person share p, mean handle time H (seconds)."""
    sustain = agents * (RESOLVE_MEAN_S / handle_s) / person_share
    cap = math.ceil(1.5 * sustain + 6 * math.sqrt(sustain) + 10 / person_share)
    while True:
        bound, tail = _solve(agents, person_share, handle_s, target, cap)
        if tail < 1e-5 or cap > 20_000:
            return bound
        cap *= 2


def _solve(n: int, p: float, handle_s: float, alpha: float, cap: int) -> tuple[Bound, float]:
    started = time.perf_counter()
    mu, nu = 1.0 / handle_s, 1.0 / RESOLVE_MEAN_S
    width = cap + 1
    states = (n + 1) * width
    b = np.repeat(np.arange(n + 1), width)
    c = np.tile(np.arange(width), n + 1)
    idx = b * width + c
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def add(row: np.ndarray, col: np.ndarray, val: np.ndarray) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(val)

    # Outflow of x(b,c): its own row, +(b mu + c nu).
    add(idx, idx, b * mu + c * nu)
    # Agent finishes: (b,c) → (b-1,c), into row of (b-1,c).
    m = b > 0
    add(idx[m] - width, idx[m], -(b[m] * mu))
    # Person connected: (b,c) → (b+1,c-1) for b < N.
    m = (c > 0) & (b < n)
    add(idx[m] + width - 1, idx[m], -(c[m] * nu * p))
    # Person abandoned at b = N, or a call not answered by a person: (b,c) → (b,c-1).
    m = c > 0
    rate = c[m] * nu * np.where(b[m] == n, 1.0, 1.0 - p)
    add(idx[m] - 1, idx[m], -rate)
    # Dial flows u(b,c) for c < cap: out of (b,c), into (b,c+1); columns after the x's.
    d = c < cap
    u_col = states + np.arange(int(d.sum()))
    add(idx[d], u_col, np.ones(u_col.size))
    add(idx[d] + 1, u_col, -np.ones(u_col.size))
    variables = states + u_col.size
    # Divided through by the uniformisation rate: coefficients of order 1 (HiGHS fails
    # on the largest instances otherwise).
    uniform = n * mu + cap * nu
    balance = coo_matrix(
        (np.concatenate(vals) / uniform, (np.concatenate(rows), np.concatenate(cols))),
        shape=(states, variables),
    ).tocsr()
    ones = coo_matrix(
        (np.ones(states), (np.zeros(states, dtype=int), np.arange(states))),
        shape=(1, variables),
    )
    a_eq = vstack([balance, ones]).tocsr()
    b_eq = np.zeros(states + 1)
    b_eq[-1] = 1.0
    persons = c * nu * p
    abandon_row = np.zeros(variables)
    abandon_row[:states] = np.where(b == n, persons, 0.0) - alpha * persons
    objective = np.zeros(variables)
    objective[:states] = -b / n
    # HiGHS's presolve turns this LP's coefficients, within [4e-4, 4], into [1e-25, 1e21]
    # on the largest instances (N = 100), and both its simplex and its interior point then
    # fail ("Not Set"); without presolve the dual simplex solves them. The interior point
    # is the fallback.
    for method, presolve in (("highs-ds", False), ("highs", True), ("highs-ipm", True)):
        result = linprog(
            objective,
            A_ub=abandon_row.reshape(1, -1),
            b_ub=np.zeros(1),
            A_eq=a_eq,
            b_eq=b_eq,
            bounds=(0, None),
            method=method,
            options={"presolve": presolve},
        )
        if result.status == 0:
            break
    if result.status != 0:
        raise RuntimeError(f"the LP failed: {result.message}")
    x = result.x[:states]
    answered = float(persons @ x)
    abandoned = float(np.where(b == n, persons, 0.0) @ x)
    tail = float(x[c >= cap - 2].sum())
    seconds = time.perf_counter() - started
    bound = Bound(float(-result.fun), abandoned / answered if answered else 0.0, cap, seconds)
    return bound, tail
