"""AI-cluster section of the suite: real GPU-cluster workloads, GA and PSO against the classic
balancers at equal time.

Instances (``--data`` folder):

* ``gavel_makespan``: Gavel's ``minimize_makespan`` physical-cluster job list (100 jobs, all
  present at time 0) on 36 K80, 36 P100 and 36 V100 GPUs in 4-GPU servers, runtimes from
  Gavel's measured throughputs; objective ``weighted_completion`` (mean job completion time).
* ``gavel_philly``: the first 500 jobs (with their arrival times) of the Philly-derived Gavel
  trace ``msr/seed=0/103959.trace`` on the same cluster.
* ``ai_cluster``: the bundled instance (500 tasks with dependencies, 64 CPU/GPU nodes).
* ``openb``: the Alibaba openb placement problem (1523 nodes, 8152 tasks, CPU, memory and
  fractional GPUs, GPU-model constraints); objective ``max_utilization``.

Metrics. Schedules: makespan; mean completion time ``mean(F_i - release_i)``; GPU
utilization ``sum_i gpu_i * runtime_i / (total GPUs * makespan)``; GPU fragmentation, the
time average over the schedule of the idle GPUs on servers where some job waits (released,
not started) and no waiting job that may run there fits in the idle GPUs, as a share of all
GPUs. Placements: the objective; nodes used; GPU fragmentation, the free GPU capacity on
nodes where no GPU task of the workload fits in what is left (all resources, eligibility
rules), as a share of the cluster's GPU capacity (after Weng et al., "Beware of Fragmentation:
Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023).

Bounds. For schedule instances the table also gives the proven lower bound on the objective
(:func:`gabalance.schedule_bound`: critical path with unavoidable transfers, energy and
Smith's-rule bounds on the pooled capacity) and each method's gap to it, ``100 (fun - bound)
/ fun`` %: the optimum lies between the bound and the best answer, so the gap bounds how far
a method can be from optimal.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

import gabalance as gb
from gabalance import examples
from gabalance.io import read_gavel, read_openb

BASELINES = ("round_robin", "least_connections", "least_loaded", "best_fit_decreasing")
#: list schedulers: schedule instances only (they build schedules)
LIST_SCHEDULERS = ("heft", "cpop", "peft", "wspt")
METHODS = ("ga", "pso", *BASELINES, *LIST_SCHEDULERS)
SUITES = {"smoke": {"instances": ["gavel_makespan"], "time": 1.0},
          "quick": {"instances": ["gavel_makespan", "gavel_philly", "ai_cluster", "openb"],
                    "time": 5.0},
          "full": {"instances": ["gavel_makespan", "gavel_philly", "ai_cluster", "openb"],
                   "time": 20.0}}
GAVEL = Path("gavel_throughputs", "scheduler")
OPENB = Path("alibaba_gpu_v2023_openb", "csv")


def load(name: str, data: Path) -> gb.Problem:
    if name == "gavel_makespan":
        return read_gavel(data / GAVEL / "simulation_throughputs.json",
                          data / GAVEL / "traces" / "physical_cluster" / "minimize_makespan.trace")
    if name == "gavel_philly":
        return read_gavel(data / GAVEL / "simulation_throughputs.json",
                          data / GAVEL / "traces" / "msr" / "seed=0" / "103959.trace",
                          oversize="drop", limit=500)
    if name == "ai_cluster":
        return examples.load("ai_cluster")
    if name == "openb":
        return read_openb(data / OPENB / "openb_node_list_all_node.csv",
                          data / OPENB / "openb_pod_list_default.csv", pooled=True)
    raise ValueError(f"unknown AI-cluster instance {name!r}")


def _gpu(problem: gb.Problem) -> int:
    for k, r in enumerate(problem.resources):
        if r.startswith("gpu"):
            return k
    raise ValueError(f"{problem.name}: no GPU resource among {problem.resources}")


def _demand(problem: gb.Problem, x: np.ndarray) -> np.ndarray:
    """(N, K) demand of every task on its node."""
    d = problem.demand
    return d[np.arange(problem.n_tasks), x] if d.ndim == 3 else d


def schedule_metrics(problem: gb.Problem, x: np.ndarray, start: np.ndarray,
                     finish: np.ndarray) -> dict[str, float]:
    g = _gpu(problem)
    dem = _demand(problem, x)[:, g].astype(float)
    cap = problem.capacity[:, g].astype(float)
    makespan = float(finish.max())
    total = cap.sum()
    busy = float((dem * (finish - start)).sum())
    # time-averaged fragmentation: sweep the intervals between consecutive event times
    events = np.unique(np.concatenate([problem.release, start, finish]))
    allowed = problem.allowed
    frag_area = 0.0
    for t0, t1 in pairwise(events):
        running = (start <= t0) & (finish > t0) & (finish > start)
        load = np.bincount(x[running], weights=dem[running], minlength=problem.n_nodes)
        free = cap - load
        waiting = np.flatnonzero((problem.release <= t0) & (start > t0) & (dem > 0))
        if waiting.size == 0:
            continue
        ok = allowed[waiting] & (dem[waiting, None] <= free[None, :] + 1e-9)
        frag = (free > 1e-9) & ~ok.any(axis=0)
        frag_area += float(free[frag].sum()) * (t1 - t0)
    return {"makespan": makespan,
            "mean_completion": float(np.mean(finish - problem.release)),
            "gpu_utilization": 100.0 * busy / (total * makespan) if makespan > 0 else 0.0,
            "gpu_fragmentation": 100.0 * frag_area / (total * makespan) if makespan > 0
            else 0.0}


def placement_metrics(problem: gb.Problem, x: np.ndarray) -> dict[str, float]:
    g = _gpu(problem)
    dem = _demand(problem, x).astype(float)
    cap = problem.capacity.astype(float)
    load = np.zeros_like(cap)
    np.add.at(load, x, dem)
    free = cap - load
    gpu_tasks = np.flatnonzero(dem[:, g] > 0)
    # distinct (demand, allowed row) pairs keep the check small
    dem_rows = problem.demand if problem.demand.ndim == 2 else None
    frag = 0.0
    allowed = problem.allowed
    for j in np.flatnonzero(free[:, g] > 1e-9):
        need = dem_rows[gpu_tasks] if dem_rows is not None else \
            problem.demand[gpu_tasks, j].astype(float)
        fits = allowed[gpu_tasks, j] & np.all(need <= free[j] + 1e-9, axis=1)
        if not fits.any():
            frag += free[j, g]
    return {"nodes_used": int(np.unique(x).size),
            "gpu_fragmentation": 100.0 * frag / cap[:, g].sum(),
            "gpu_allocated": 100.0 * load[:, g].sum() / cap[:, g].sum()}


def instance_bound(problem: gb.Problem, objective: str | None = None) -> dict[str, Any]:
    """The proven lower bound of a schedule instance for the tables: ``bound`` (its value),
    ``bound_binding`` (which part gives it), ``bound_parts`` (every part by name) and
    ``bound_time`` (seconds)."""
    b = gb.schedule_bound(problem, objective)
    return {"bound": float(b.value), "bound_binding": b.binding,
            "bound_parts": {k: float(v) for k, v in b.parts.items()},
            "bound_time": float(b.time)}


def bound_gap_percent(fun: float, bound: float | None) -> float | None:
    """``100 (fun - bound) / fun``: how far above the proven lower bound ``fun`` is, % (None
    without a bound)."""
    if bound is None or not np.isfinite(fun):
        return None
    return 0.0 if fun == 0 else 100.0 * max(0.0, fun - bound) / abs(fun)


def run(suite: str, data: Path, *, seed: int = 0,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    cfg = SUITES[suite]
    rows = []
    for name in cfg["instances"]:
        p = load(name, data)
        row: dict[str, Any] = {"instance": name, "tasks": p.n_tasks, "nodes": p.n_nodes,
                               "objective": p.objective, "mode": p.mode, "results": {}}
        if p.mode == "schedule":
            row.update(instance_bound(p))
            log(f"  ai {name} bound: {row['bound']:.6g} ({row['bound_binding']} binds)")
        for method in METHODS:
            if method in LIST_SCHEDULERS and p.mode != "schedule":
                continue
            kw: dict[str, Any] = (dict(time_limit=cfg["time"], seed=seed)
                                  if method in ("ga", "pso") else {})
            res = gb.solve(p, method=method, backend="numba", **kw)
            if p.mode == "schedule":
                valid = gb.validate(p, res.x, start=res.start).ok
                metrics = schedule_metrics(p, res.x, res.start, res.finish)
            else:
                valid = gb.validate(p, res.x).ok
                metrics = placement_metrics(p, res.x)
            h = res.history
            row["results"][method] = {
                "fun": float(res.fun), "violation": float(res.violation), "valid": bool(valid),
                "gap": bound_gap_percent(float(res.fun), row.get("bound"))
                if res.violation == 0 else None,
                "time": float(res.time), "nit": int(res.nit), **metrics,
                "compile": float(res.get("compile_time") or 0.0),
                "history": [(float(t), float(v)) for t, v, viol in
                            zip(h["time"], h["best"], h["violation"]) if viol == 0]
                if method in ("ga", "pso") else []}
            log(f"  ai {name} {method}: {res.fun:.6g} (violation {res.violation:g})")
        rows.append(row)
    return {"rows": rows, "time_limit": cfg["time"]}


def _margins(row: dict[str, Any]) -> str:
    """One line: GA and PSO below the best classic balancer and below the best of all
    baselines (list schedulers included), % (positive: lower, i.e. better)."""
    res = row["results"]

    def best(names: tuple[str, ...]) -> tuple[str, float] | None:
        ok = [(res[m]["fun"], m) for m in names if m in res and res[m]["violation"] == 0]
        return (min(ok)[1], min(ok)[0]) if ok else None

    parts = []
    for label, names in (("the best classic balancer", BASELINES),
                         ("the best baseline, list schedulers included",
                          BASELINES + LIST_SCHEDULERS)):
        b = best(names)
        if b is None:
            continue
        cells = [f"{m.upper()} {100.0 * (b[1] - res[m]['fun']) / b[1]:.2f}%"
                 for m in ("ga", "pso") if m in res and res[m]["violation"] == 0]
        parts.append(f"below {label} ({b[0]}): " + ", ".join(cells))
    return "Margins, " + "; ".join(parts) + ".\n" if parts else ""


def tables(section: dict[str, Any]) -> str:
    out = [f"GA and PSO get {section['time_limit']:g} s each (default parameters, seed 0); "
           "the baselines run once. Values of infeasible solutions are marked with their "
           "violation.\n"]
    for row in section["rows"]:
        res = row["results"]
        out.append(f"#### {row['instance']}: {row['tasks']} tasks, {row['nodes']} nodes, "
                   f"objective {row['objective']}\n")
        bounded = row["mode"] == "schedule" and row.get("bound") is not None
        if bounded:
            parts = ", ".join(f"{k} {v:,.0f}" for k, v in row.get("bound_parts", {}).items())
            out.append(f"Proven lower bound on the objective: {row['bound']:,.0f} "
                       f"({row.get('bound_binding', '')} binds; {parts}); the gap column is "
                       "each method's distance above it.\n")
        if row["mode"] == "schedule":
            cols = [("fun", "objective", "{:,.0f}"), ("makespan", "makespan", "{:,.0f}"),
                    ("mean_completion", "mean completion", "{:,.0f}"),
                    ("gpu_utilization", "GPU utilization %", "{:.1f}"),
                    ("gpu_fragmentation", "GPU fragmentation %", "{:.2f}")]
        else:
            cols = [("fun", "objective", "{:.4f}"), ("nodes_used", "nodes used", "{:d}"),
                    ("gpu_allocated", "GPU allocated %", "{:.1f}"),
                    ("gpu_fragmentation", "GPU fragmentation %", "{:.2f}")]
        extra = ["bound", "gap to bound %"] if bounded else []
        out.append("| method | " + " | ".join([c[1] for c in cols] + extra) + " | valid |")
        out.append("|---|" + "---:|" * (len(cols) + len(extra)) + "---|")
        shown = [m for m in METHODS if m in res]  # older runs lack the list schedulers
        for m in shown:
            r = res[m]
            cells = [c[2].format(r[c[0]]) for c in cols]
            if r["violation"] > 0:
                cells[0] += f" (violation {r['violation']:.3g})"
            if bounded:
                gap = r.get("gap")
                cells += [f"{row['bound']:,.0f}", "n/a" if gap is None else f"{gap:.2f}"]
            out.append(f"| {m} | " + " | ".join(cells) + f" | {r['valid']} |")
        out.append("")
        if row["mode"] == "schedule" and "ga" in res:
            out.append(_margins(row))
        if not any(res[m]["valid"] for m in shown):
            out.append(f"No method found a feasible solution of {row['instance']} in this "
                       "run; the smallest violation is the best answer here. Whether the "
                       "instance has a feasible solution at all is not known.\n")
    return "\n".join(out)
