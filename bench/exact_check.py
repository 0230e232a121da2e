"""The exact MILP (HiGHS) as a certificate: OR-Library optima, j30, and the GA judged by it.

    python bench/exact_check.py small  [--count 100]        # GA vs MILP optimum, both modes
    python bench/exact_check.py orlib                       # gap1-12, 60 problems, both senses
    python bench/exact_check.py j30    [--time 30] [--count 10]   # time-limited MILP on j30

``small``: ``--count`` random instances per mode from :func:`instance` (at most 10 tasks and 4
nodes, integer data; schedules with dependencies, transfer times, releases and weights),
objectives in turn (placement: cost min, cost max, max_utilization, nodes_used; schedule:
makespan, weighted_completion). Each is solved to proven optimality by
``solve(method="milp")`` and by the GA with default parameters (``solve(p, seed=0)``, 300
generations); the table counts the instances where the GA reaches the optimum and gives the
worst gap. Infeasible draws are drawn again.

``orlib``: every problem of gap1-gap12 in both senses with ``solve(method="milp")``, against
the optima in ``DERIVED_gap_reference_values.csv``.

``j30``: the first ``--count`` PSPLIB j30 instances (file order) with a time limit: status,
objective, the proven bound and the known optimum (the bound must not exceed it).

Every solution is checked with ``gabalance.validate``. Results go to
``bench/results/exact_<set>.json``.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import gabalance as gb
from gabalance.io import gap_reference_values, psplib_optima, read_orlib_gap, read_psplib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data, machine, save, warm_up
from quality_gap import REF, _orlib_names

PLACEMENT = (("cost", "min"), ("cost", "max"), ("max_utilization", "min"),
             ("nodes_used", "min"))
SCHEDULE = (("makespan", "min"), ("weighted_completion", "min"))


def instance(rng: np.random.Generator, mode: str) -> gb.Problem:
    """A random small instance: 5-10 tasks, 2-4 nodes, resources (cpu, gpu), integer data.

    Nodes have 4-16 CPUs and 0-4 GPUs (the first at least 2); tasks need 1-4 CPUs and, three
    times in ten, one GPU.
    About a fifth of the (task, node) pairs are forbidden (infinite runtime); every task
    keeps a node it fits. Schedules get
    a random DAG (each earlier task precedes a later one with probability 0.25), data of
    0-3 units per edge over bandwidth 1 (a transfer of that many time units between distinct
    nodes), release times 0-3 for a third of the tasks and weights 1-3.
    """
    M = int(rng.integers(2, 5))
    N = int(rng.integers(5, 11))
    capacity = np.stack([rng.integers(4, 17, M), rng.integers(0, 5, M)], 1)
    capacity[0, 1] = max(2, capacity[0, 1])  # at least one GPU node
    demand = np.stack([rng.integers(1, 5, N), (rng.random(N) < 0.3).astype(np.int64)], 1)
    runtime = rng.integers(1, 10, (N, M)).astype(float)
    runtime[rng.random((N, M)) < 0.2] = math.inf
    for i in range(N):  # each task has a home node it fits and runs on
        fits = np.flatnonzero(capacity[:, 1] >= demand[i, 1])
        home = int(rng.choice(fits))
        if not np.isfinite(runtime[i, home]):
            runtime[i, home] = float(rng.integers(1, 10))
    kw: dict = {}
    if mode == "placement":
        kw["cost"] = rng.integers(1, 30, (N, M))
    else:
        pairs = [(a, b) for b in range(N) for a in range(b) if rng.random() < 0.25]
        kw.update(edges=np.array(pairs, np.int64).reshape(-1, 2),
                  data=rng.integers(0, 4, len(pairs)).astype(float), bandwidth=1.0,
                  release=np.where(rng.random(N) < 1 / 3, rng.integers(0, 4, N), 0)
                  .astype(float),
                  weight=rng.integers(1, 4, N).astype(float))
    return gb.Problem(capacity, demand, runtime=runtime, resources=["cpu", "gpu"], **kw)


def _gap(found: float, ref: float, sense: str) -> float:
    diff = (found - ref) if sense == "min" else (ref - found)
    return 0.0 if diff == 0 else 100.0 * diff / max(abs(ref), 1e-12)


def run_small(count: int, seed: int, backend: str) -> dict:
    rows = []
    for mode, objectives in (("placement", PLACEMENT), ("schedule", SCHEDULE)):
        rng = np.random.default_rng(seed)
        made = 0
        while made < count:
            p = instance(rng, mode)
            objective, sense = objectives[made % len(objectives)]
            ex = gb.solve(p, objective, sense=sense, method="milp")
            if ex.status == 2:
                continue  # infeasible draw
            if ex.status != 0:
                raise RuntimeError(f"{mode} #{made}: MILP status {ex.status}: {ex.message}")
            ga = gb.solve(p, objective, sense=sense, seed=0, backend=backend)
            valid = bool(gb.validate(p, ex.x, ex.start).ok and gb.validate(p, ga.x, ga.start).ok)
            gap = _gap(ga.fun, ex.fun, sense)
            rows.append(dict(mode=mode, index=made, objective=objective, sense=sense,
                             tasks=p.n_tasks, nodes=p.n_nodes, edges=p.n_edges,
                             optimum=ex.fun, bound=ex.bound, ga=ga.fun, gap=gap,
                             reached=abs(ga.fun - ex.fun) <= 1e-9 * max(1.0, abs(ex.fun)),
                             milp_time=ex.time, ga_time=ga.time, valid=valid))
            made += 1
            print(f"{mode:9} {made:3d} {objective:>19}/{sense} N={p.n_tasks:2d} M={p.n_nodes} "
                  f"E={p.n_edges:2d}  optimum {ex.fun:9.6g}  GA {ga.fun:9.6g}  gap {gap:6.3f}%"
                  f"  milp {ex.time:5.2f} s{'' if valid else '  INVALID'}", flush=True)
    summary = {}
    for mode in ("placement", "schedule"):
        sel = [r for r in rows if r["mode"] == mode]
        summary[mode] = dict(instances=len(sel), reached=sum(r["reached"] for r in sel),
                             worst_gap=max(r["gap"] for r in sel),
                             mean_gap=sum(r["gap"] for r in sel) / len(sel),
                             max_milp_time=max(r["milp_time"] for r in sel))
        print(f"\n{mode}: the GA reaches the MILP optimum on {summary[mode]['reached']}/"
              f"{len(sel)}; worst gap {summary[mode]['worst_gap']:.3f}%, mean "
              f"{summary[mode]['mean_gap']:.4f}%")
    summary["all_valid"] = all(r["valid"] for r in rows)
    return dict(summary=summary, rows=rows)


def run_orlib(data: Path) -> dict:
    ref = gap_reference_values(data / REF)
    names = _orlib_names(data)
    rows = []
    for n in range(1, 13):
        for sense in ("max", "min"):
            for k, p in enumerate(read_orlib_gap(data / "gap_orlib" / f"gap{n}.txt", sense), 1):
                name = names[(f"gap{n}", k)]
                res = gb.solve(p, "cost", sense=sense, method="milp")
                best = ref[(name, sense)]["best_known_value"]
                valid = bool(gb.validate(p, res.x).ok)
                rows.append(dict(instance=name, file_problem=p.name, sense=sense,
                                 optimum=best, found=res.fun, bound=res.bound,
                                 status=res.status, equal=res.fun == best, time=res.time,
                                 valid=valid))
                print(f"{name:>9} ({p.name}) {sense}  optimum {best:6d}  MILP {res.fun:8g} "
                      f"status {res.status}  {res.time:5.2f} s{'' if valid else ' INVALID'}",
                      flush=True)
    summary = dict(problems=len(rows), equal=sum(r["equal"] for r in rows),
                   proven=sum(r["status"] == 0 for r in rows),
                   max_time=max(r["time"] for r in rows),
                   all_valid=all(r["valid"] for r in rows))
    print(f"\n{summary['equal']}/{len(rows)} optima reproduced, {summary['proven']} proven "
          f"optimal; slowest {summary['max_time']:.2f} s")
    return dict(summary=summary, rows=rows)


def run_j30(data: Path, count: int, limit: float) -> dict:
    optima = psplib_optima(data / "psplib_j30" / "optimum" / "optimum.csv")
    files = sorted((data / "psplib_j30" / "j30").glob("*.sm"), key=_psplib_key)[:count]
    if not files:
        raise FileNotFoundError(f"no PSPLIB .sm files in {data / 'psplib_j30' / 'j30'}")
    rows = []
    for f in files:
        p = read_psplib(f)
        res = gb.solve(p, "makespan", method="milp", time_limit=limit)
        opt = optima[p.name]
        valid = res.x is not None and bool(gb.validate(p, res.x, res.start).ok)
        bound_ok = not (res.bound > opt)  # nan (no bound) counts as valid
        rows.append(dict(instance=p.name, optimum=opt, status=res.status, found=res.fun,
                         bound=res.bound, gap=res.gap, time=res.time, valid=valid,
                         bound_ok=bound_ok, model=res.model))
        print(f"{p.name:>10} optimum {opt:4d}  MILP {res.fun:6g} bound {res.bound:6g} status "
              f"{res.status}  {res.time:6.2f} s  {res.model.get('variables')} variables"
              f"{'' if valid else '  INVALID'}{'' if bound_ok else '  BOUND ABOVE OPTIMUM'}",
              flush=True)
    summary = dict(instances=len(rows), optimal=sum(r["status"] == 0 for r in rows),
                   at_optimum=sum(r["found"] == r["optimum"] for r in rows),
                   bounds_valid=all(r["bound_ok"] for r in rows),
                   all_valid=all(r["valid"] for r in rows))
    print(f"\n{summary['optimal']}/{len(rows)} proven optimal, {summary['at_optimum']} at the "
          f"known optimum; every bound at most the optimum: {summary['bounds_valid']}")
    return dict(summary=summary, rows=rows)


def _psplib_key(path: Path) -> tuple[int, int]:
    a, b = path.stem.removeprefix("j30").split("_")
    return int(a), int(b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", choices=("small", "orlib", "j30"))
    ap.add_argument("--count", type=int, default=None,
                    help="small: instances per mode (default 100); j30: instances (default 10)")
    ap.add_argument("--time", type=float, default=30.0, help="j30: MILP seconds per instance")
    ap.add_argument("--seed", type=int, default=0, help="small: instance generator seed")
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    data = args.data or default_data()
    warm_up(args.backend)
    t0 = time.perf_counter()
    if args.set == "small":
        doc = run_small(args.count or 100, args.seed, args.backend)
    elif args.set == "orlib":
        doc = run_orlib(data)
    else:
        doc = run_j30(data, args.count or 10, args.time)
    command = "python bench/exact_check.py " + shlex.join(argv if argv is not None
                                                        else sys.argv[1:])
    out = args.out or Path(__file__).resolve().parent / "results" / f"exact_{args.set}.json"
    save(out, dict(command=command.strip(), machine=machine(),
                   wall=time.perf_counter() - t0, **doc))
    return 0 if doc["summary"].get("all_valid", True) else 1


if __name__ == "__main__":
    sys.exit(main())
