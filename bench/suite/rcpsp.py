"""RCPSP section of the suite: PSPLIB j30 against the optimum, the GA beside a priority rule.

The priority-rule baseline is the classic latest-finish-time (LFT) rule with the serial
schedule generation scheme (Kelley 1963; Kolisch, "Serial and parallel resource-constrained
project scheduling methods revisited", EJOR 90, 1996): latest finish times from a backward
pass over the precedence graph with the durations, ignoring resources; activities in order
of increasing LFT (ties: lower index) are scheduled one by one at their earliest
precedence- and resource-feasible start. gabalance's decoder *is* the serial scheme, so the
rule is the decoder fed keys that rank the activities by LFT.

Lower bounds. Each instance also gets :func:`gabalance.schedule_bound` on the makespan, the
combinatorial one (critical path, energy per resource) and with ``lp=True`` the LP relaxation
of the time-indexed model; the table reports their mean distance below the known optimum.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import gabalance as gb
from gabalance.io import psplib_optima, read_psplib

SUITES = {"smoke": {"every": 112, "time": 0.3}, "quick": {"every": 7, "time": 0.5},
          "full": {"every": 1, "time": 2.0}}


def latest_finish(problem: gb.Problem) -> np.ndarray:
    """(N,) latest finish times without resources, for the horizon = sum of durations.

    A backward pass in reverse topological order: ``LF_i = min over successors s of
    (LF_s - d_s)``, ``LF = horizon`` for activities without successors.
    """
    n = problem.n_tasks
    d = np.array([problem.runtime_of(i, 0) for i in range(n)])
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = np.zeros(n, int)
    for a, b in problem.edges:
        succ[int(a)].append(int(b))
        indeg[int(b)] += 1
    order, stack = [], [i for i in range(n) if indeg[i] == 0]
    while stack:
        i = stack.pop()
        order.append(i)
        for s in succ[i]:
            indeg[s] -= 1
            if indeg[s] == 0:
                stack.append(s)
    lf = np.full(n, float(d.sum()))
    for i in reversed(order):
        for s in succ[i]:
            lf[i] = min(lf[i], lf[s] - d[s])
    return lf


def lft_schedule(problem: gb.Problem) -> tuple[float, np.ndarray]:
    """Makespan and start times of the LFT rule with the serial scheme."""
    lf = latest_finish(problem)
    rank = np.empty(problem.n_tasks)
    rank[np.lexsort((np.arange(problem.n_tasks), lf))] = np.arange(problem.n_tasks)
    keys = rank / problem.n_tasks
    x = np.zeros(problem.n_tasks, np.int32)
    ev = gb.evaluate(problem, x[None], keys[None], "makespan", backend="numba", schedule=True)
    if not gb.validate(problem, x, start=ev.start[0]).ok:
        raise AssertionError(f"{problem.name}: the LFT schedule is not valid")
    return float(ev.objective[0]), ev.start[0]


def run(suite: str, data: Path, *, seed: int = 0,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    cfg = SUITES[suite]
    optima = psplib_optima(data / "psplib_j30" / "optimum" / "optimum.csv")
    files = sorted((data / "psplib_j30" / "j30").glob("*.sm"),
                   key=lambda f: [int(t) for t in f.stem[3:].split("_")])[::cfg["every"]]
    rows = []
    for f in files:
        p = read_psplib(f)
        opt = optima[p.name]
        lft, _ = lft_schedule(p)
        res = gb.solve(p, "makespan", time_limit=cfg["time"], seed=seed, backend="numba")
        valid = res.violation == 0 and gb.validate(p, res.x, start=res.start).ok
        cheap = gb.schedule_bound(p, "makespan")
        with_lp = gb.schedule_bound(p, "makespan", lp=True, time_limit=10.0)
        if max(cheap.value, with_lp.value) > opt:
            raise AssertionError(f"{p.name}: a lower bound {max(cheap.value, with_lp.value)} "
                                 f"exceeds the optimum {opt}")
        rows.append({"instance": p.name, "optimum": opt, "ga": float(res.fun), "lft": lft,
                     "valid": bool(valid), "ga_time": float(res.time), "nit": int(res.nit),
                     "ga_compile": float(res.compile_time), "bound": float(cheap.value),
                     "bound_binding": cheap.binding, "bound_time": float(cheap.time),
                     "bound_lp": float(with_lp.value),
                     "bound_lp_time": float(with_lp.time)})
    for r in rows:
        r["ga_dev"] = 100.0 * (r["ga"] - r["optimum"]) / r["optimum"]
        r["lft_dev"] = 100.0 * (r["lft"] - r["optimum"]) / r["optimum"]
        r["bound_dev"] = 100.0 * (r["optimum"] - r["bound"]) / r["optimum"]
        r["bound_lp_dev"] = 100.0 * (r["optimum"] - r["bound_lp"]) / r["optimum"]
    log(f"  j30: {len(rows)} instances, GA mean deviation "
        f"{statistics.fmean(r['ga_dev'] for r in rows):.3f}%, LFT "
        f"{statistics.fmean(r['lft_dev'] for r in rows):.3f}%")
    return {"rows": rows, "time_limit": cfg["time"], "every": cfg["every"]}


def tables(section: dict[str, Any]) -> str:
    rows = section["rows"]
    lines = [f"{len(rows)} instances (every {section['every']}th of the 336 in file order)"
             if section["every"] > 1 else f"All {len(rows)} instances",
             f"; the GA gets {section['time_limit']:g} s each.\n",
             "| method | mean deviation from the optimum, % | worst, % | optimal | "
             "every schedule valid |",
             "|---|---:|---:|---:|---|"]
    lines[0] += lines.pop(1)
    for key, label in (("ga", "gabalance GA"), ("lft", "LFT rule + serial SGS")):
        devs = [r[f"{key}_dev"] for r in rows]
        valid = all(r["valid"] for r in rows) if key == "ga" else True
        lines.append(f"| {label} | {statistics.fmean(devs):.3f} | {max(devs):.2f} | "
                     f"{sum(d <= 1e-9 for d in devs)}/{len(devs)} | {valid} |")
    if rows and "bound_dev" in rows[0]:
        lines += ["", "Proven lower bounds (`gb.schedule_bound`), distance below the optimum:",
                  "", "| bound | mean gap to the optimum, % | worst, % | equal to the optimum "
                  "| mean time, s |", "|---|---:|---:|---:|---:|"]
        for key, label in (("bound", "critical path and energy"),
                           ("bound_lp", "with the time-indexed LP (`lp=True`)")):
            devs = [r[f"{key}_dev"] for r in rows]
            secs = statistics.fmean(r[f"{key}_time"] for r in rows)
            lines.append(f"| {label} | {statistics.fmean(devs):.2f} | {max(devs):.2f} | "
                         f"{sum(d <= 1e-9 for d in devs)}/{len(devs)} | {secs:.3f} |")
    return "\n".join(lines) + "\n"
