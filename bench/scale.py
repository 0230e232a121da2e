"""Scale check: build a 10 000-node, 100 000-task AI cluster and evaluate a population on it.

Usage::

    python bench/scale.py                      # the defaults below
    python bench/scale.py --nodes 1000 --tasks 10000 --no-tracemalloc

Builds ``ai_cluster(10_000, 100_000, seed=0, dependencies=False, dense_runtime=False,
objective="max_utilization")`` (per-task demands, no dense (N, M) matrix; the Problem
constructor validates it), draws 64 random assignments (each task on a node drawn uniformly
among the nodes that allow it, by rejection sampling, so no (N, M) eligibility matrix is
built) and evaluates them with the Numba backend for the objectives ``max_utilization``
and ``cost``. Prints a markdown table: build time, first-evaluation time (JIT compilation or
loading Numba's on-disk cache included; the table says which), the median of repeated
evaluations, and peak memory: ``ru_maxrss`` after the timed pass and at exit, and the
tracemalloc peak of a second pass that repeats the stages with tracing on (tracing slows
the build and the JIT about ten-fold, so it is kept out of the timed pass; it sees Python
and NumPy allocations, not those Numba makes inside kernels). Exits non-zero when the peak
RSS reaches 8 GB.

A cold-JIT figure needs an empty Numba cache, e.g. ``NUMBA_CACHE_DIR=$(mktemp -d)``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc

import numba
import numpy as np

import gabalance as gb
from gabalance.generate import ai_cluster

RSS_LIMIT = 8 * 1024**3


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def random_allowed(problem: gb.Problem, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, N) int32: every task on a node drawn uniformly among the nodes allowing it."""
    n, m = problem.n_tasks, problem.n_nodes
    group_ok, task_group = problem.label_ok()
    per_node = problem.per_node_demand
    pop = np.empty((size, n), np.int32)
    for row in range(size):
        x = rng.integers(0, m, n)
        todo = np.arange(n)
        for _ in range(10_000):
            j = x[todo]
            ok = group_ok[task_group[todo], j]
            if problem.runtime is not None:
                ok &= np.isfinite(problem.runtime[todo, j])
            d = problem.demand[todo, j] if per_node else problem.demand[todo]
            ok &= np.all(d <= problem.capacity[j], axis=1)
            todo = todo[~ok]
            if todo.size == 0:
                break
            x[todo] = rng.integers(0, m, todo.size)
        else:
            raise RuntimeError("rejection sampling did not converge")
        pop[row] = x
    return pop


def fmt_bytes(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def cache_state(before: tuple[int, int]) -> str:
    """Whether the placement kernel was compiled or loaded from Numba's cache since ``before``."""
    hits, misses = kernel_cache_counts()
    if misses > before[1]:
        return "compiled"
    if hits > before[0]:
        return "loaded from cache"
    return "already in memory"


def kernel_cache_counts() -> tuple[int, int]:
    """(cache hits, cache misses) of the Numba placement kernel, (0, 0) if unavailable."""
    from gabalance.backend import _numba

    stats = getattr(_numba._placement_kernel, "stats", None)
    if stats is None:
        return 0, 0
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


def build(args: argparse.Namespace) -> gb.Problem:
    return ai_cluster(args.nodes, args.tasks, seed=args.seed, dependencies=False,
                      dense_runtime=False, objective="max_utilization")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--pop", type=int, default=64, help="population size P")
    ap.add_argument("--repeats", type=int, default=5, help="timed evaluations after the first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false",
                    help="skip the second, traced pass")
    args = ap.parse_args(argv)
    rows: list[tuple[str, str]] = []

    # ---- timed pass (tracemalloc off: it slows the build and the JIT ten-fold)
    t = time.perf_counter()
    problem = build(args)
    build_s = time.perf_counter() - t
    assert problem.runtime is None and problem.cost is None and problem.demand.ndim == 2
    rows.append(("build + validate `ai_cluster`", f"{build_s:.3f} s"))

    t = time.perf_counter()
    pop = random_allowed(problem, args.pop, np.random.default_rng(args.seed))
    rows.append((f"random allowed population ({args.pop} x {args.tasks})",
                 f"{time.perf_counter() - t:.3f} s"))

    results = {}
    for objective in ("max_utilization", "cost"):
        before = kernel_cache_counts()
        t = time.perf_counter()
        ev = gb.evaluate(problem, pop, objective=objective, backend="numba")
        first = time.perf_counter() - t
        state = cache_state(before)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            again = gb.evaluate(problem, pop, objective=objective, backend="numba")
            times.append(time.perf_counter() - t)
        np.testing.assert_array_equal(again.objective, ev.objective)
        assert np.all(np.isfinite(ev.objective)) and np.all(np.isfinite(ev.violation))
        med = statistics.median(times)
        results[objective] = ev
        rows.append((f"`{objective}`: first evaluation (kernel {state})", f"{first:.3f} s"))
        rows.append((f"`{objective}`: median of {args.repeats} evaluations",
                     f"{med * 1e3:.1f} ms ({args.pop / med:,.0f} evaluations/s, "
                     f"{args.pop * args.tasks / med / 1e6:,.0f} M task-assignments/s)"))
    timed_peak = peak_rss_bytes()
    rows.append(("peak RSS of the timed pass (`ru_maxrss`)", fmt_bytes(timed_peak)))
    ev = results["max_utilization"]
    summary = (f"max_utilization of the population: min {ev.objective.min():.3f}, median "
               f"{np.median(ev.objective):.3f}; violation median {np.median(ev.violation):.3f}")

    # ---- traced pass: the same stages again, one evaluation per objective
    if args.tracemalloc:
        del problem, pop, results, ev, again
        gc.collect()
        tracemalloc.start()
        problem = build(args)
        pop = random_allowed(problem, args.pop, np.random.default_rng(args.seed))
        for objective in ("max_utilization", "cost"):
            gb.evaluate(problem, pop, objective=objective, backend="numba")
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(("tracemalloc peak of a second, traced pass (Python/NumPy allocations)",
                     fmt_bytes(traced_peak)))
    peak = peak_rss_bytes()
    rows.append(("peak RSS of the process (`ru_maxrss`, at exit)", fmt_bytes(peak)))

    print(f"# gabalance scale check: {args.nodes:,} nodes x {args.tasks:,} tasks, "
          f"P = {args.pop}, backend numba ({numba.get_num_threads()} threads)")
    print()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, {os.cpu_count()} CPUs")
    print()
    print("| stage | result |")
    print("|---|---|")
    for stage, value in rows:
        print(f"| {stage} | {value} |")
    print()
    print(summary)
    if peak >= RSS_LIMIT:
        print(f"FAIL: peak RSS {fmt_bytes(peak)} >= 8 GB", file=sys.stderr)
        return 1
    print(f"OK: peak RSS {fmt_bytes(peak)} < 8 GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
