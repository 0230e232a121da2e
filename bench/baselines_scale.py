"""Scale check of the placement baselines: seconds per baseline on a large AI cluster.

Usage::

    python bench/baselines_scale.py                          # 100 000 tasks, 10 000 nodes
    python bench/baselines_scale.py --tasks 20000 --nodes 2000
    python bench/baselines_scale.py --fill 0.8 --solve 60    # a feasible instance, and the GA
    python bench/baselines_scale.py --solve 60               # the overloaded one, and the GA

Builds ``ai_cluster(nodes, tasks, seed=..., dependencies=False, dense_runtime=False,
objective="max_utilization")`` and runs each placement baseline on it once (``--repeat``
for the best of several). Each baseline is first called on a tiny instance of the same
kind, so its first-call time (Numba compiling the kernel, or loading it from the on-disk
cache; a cold figure needs an empty cache, e.g. ``NUMBA_CACHE_DIR=$(mktemp -d)``) is
reported apart from the time on the large instance. The five baselines share one kernel
(``gabalance._placement``), so compilation falls on the first of them. Afterwards every
assignment is checked: each task on a node that allows it (labels, demand within the empty
node); the resulting maximum utilization and number of overloaded nodes are shown. Prints a
markdown table; exits non-zero if a check fails.

``--fill F`` builds ``ai_cluster(..., fill=F)`` instead: demands shrunk so that every label
class asks for at most F of its capacity, so a plan exists. ``--solve S`` then runs
``gabalance.solve(problem, time_limit=S, seed=0)`` (numba) and prints its value, violation,
wall time split into compilation and search, whether the limit was kept (search <= S +
max(5 %, 0.5 s)), its message, and how it compares with the best baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numba
import numpy as np

import gabalance as gb
from gabalance import baselines as B
from gabalance.generate import ai_cluster

NAMES = ("round_robin", "least_connections", "least_loaded", "first_fit_decreasing",
         "best_fit_decreasing")


def instance(nodes: int, tasks: int, seed: int, fill: float | None = None) -> gb.Problem:
    return ai_cluster(nodes, tasks, seed=seed, dependencies=False, dense_runtime=False,
                      objective="max_utilization", fill=fill)


def check(problem: gb.Problem, x: np.ndarray) -> tuple[bool, float, int]:
    """(every task allowed where it is, max utilization, overloaded nodes), without (N, M)."""
    group_ok, task_group = problem.label_ok()
    ok = bool(group_ok[task_group, x].all())
    ok &= bool(np.all(problem.demand <= problem.capacity[x]))
    load = np.zeros(problem.capacity.shape, np.float64)
    np.add.at(load, x, problem.demand.astype(np.float64))
    cap = problem.capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(cap > 0, load / np.where(cap > 0, cap, 1), 0.0)
    over = int(np.any(load > cap, axis=1).sum())
    return ok, float(util.max()), over


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    ap.add_argument("--fill", type=float, default=None,
                    help="shrink demands to this share of every label class's capacity")
    ap.add_argument("--solve", type=float, default=None, metavar="SECONDS",
                    help="also run gabalance.solve with this time limit")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    problem = instance(args.nodes, args.tasks, args.seed, args.fill)
    build = time.perf_counter() - t
    tiny = instance(8, 40, args.seed, args.fill)

    rows = []
    failed = False
    for name in NAMES:
        fn = B.BASELINES[name]
        t = time.perf_counter()
        fn(tiny)
        first = time.perf_counter() - t
        best = np.inf
        plan = None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            plan = fn(problem)
            best = min(best, time.perf_counter() - t)
        assert plan is not None
        ok, umax, over = check(problem, plan.assignment)
        failed |= not ok
        viol = float(gb.evaluate(problem, plan.assignment).violation[0])
        rows.append((name, first, best, umax, over, ok, viol))

    seed = "" if args.seed == 0 else f" --seed {args.seed}"
    seed += "" if args.fill is None else f" --fill {args.fill:g}"
    seed += "" if args.solve is None else f" --solve {args.solve:g}"
    cpu = platform.processor() or platform.machine()
    print(f"`python bench/baselines_scale.py --tasks {args.tasks} --nodes {args.nodes}{seed}`"
          f" on {cpu}, {os.cpu_count()} cores, numba {numba.__version__}"
          f" ({numba.get_num_threads()} threads);"
          f" instance built in {build:.2f} s ({problem.n_tasks} tasks, {problem.n_nodes} nodes)")
    print()
    print(f"| baseline | first call, tiny instance (s) | {args.tasks} x {args.nodes} (s) "
          f"| max utilization | overloaded nodes | violation | allowed |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for name, first, best, umax, over, ok, viol in rows:
        print(f"| {name} | {first:.2f} | {best:.3f} | {umax:.3f} | {over} | {viol:.4g} | "
              f"{'yes' if ok else 'NO'} |")
    if args.solve is not None:
        failed |= not solve_row(problem, args.solve, rows)
    return 1 if failed else 0


def solve_row(problem: gb.Problem, limit: float, rows: list) -> bool:
    """Run the GA under ``limit`` and print how it did against the best baseline (feasible
    first, then the lower maximum utilization); False if its plan is not on allowed nodes."""
    t = time.perf_counter()
    res = gb.solve(problem, time_limit=limit, seed=0, backend="numba")
    wall = time.perf_counter() - t
    search = wall - res.compile_time
    ok, _, over = check(problem, res.x)
    best = min(rows, key=lambda r: (r[6], r[3]))
    better = (res.violation, res.fun) < (best[6], best[3])
    kept = search <= limit + max(0.05 * limit, 0.5)
    print()
    print("| solver | max utilization | violation | overloaded nodes | generations | wall s "
          "| compile s | search s | limit kept | better than the best baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|")
    print(f"| gabalance ga ({limit:g} s) | {res.fun:.4f} | {res.violation:.4g} | {over} | "
          f"{res.nit} | {wall:.1f} | {res.compile_time:.1f} | {search:.1f} | "
          f"{'yes' if kept else 'NO'} | {'yes' if better else 'no'} ({best[0]}) |")
    print()
    print(f"message: {res.message}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
