"""A tour of gabalance's inputs: generators, benchmark readers, batched evaluation, validation.

Run from the repository root::

    python examples/tour.py                 # benchmark data from gabalance.io.data_dir()
    python examples/tour.py --data DIR      # or from DIR
    python examples/tour.py --no-data       # generated instances only

For each instance it prints its size, evaluates 256 random plans (tasks on nodes they may
use, random priority keys) in one batched call, and checks the best one (feasible first,
then by objective) with ``gabalance.validate``. Random plans rarely respect capacity on
packing instances: that is what the search algorithms are for.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import gabalance as gb
from gabalance import generate, io


def instances(data: Path | None) -> Iterator[gb.Problem]:
    yield generate.ai_cluster(16, 120, seed=1)
    yield generate.random_dag(60, ccr=1.0, n_procs=4, seed=1)
    yield generate.gap_like(10, 100, kind="d", seed=1)
    if data is None:
        return
    yield io.read_orlib_gap_one(data / "gap_orlib" / "gapd.txt", 1)
    yield io.read_yagiura_gap(data / "gap_yagiura" / "AssignmentProblems.jl" / "data" /
                              "c10400.zip")
    yield io.read_psplib(data / "psplib_j30" / "j30" / "j301_1.sm")
    openb = data / "alibaba_gpu_v2023_openb" / "csv"
    yield io.read_openb(openb / "openb_node_list_all_node.csv",
                        openb / "openb_pod_list_default.csv")
    gavel = data / "gavel_throughputs" / "scheduler"
    yield io.read_gavel(gavel / "simulation_throughputs.json",
                        gavel / "traces" / "physical_cluster" / "artifact_evaluation.trace")


def random_plans(problem: gb.Problem, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, N) assignments: every task on a node it may run on, chosen uniformly."""
    pop = np.empty((count, problem.n_tasks), np.int32)
    for i in range(problem.n_tasks):
        nodes = problem.allowed_nodes(i)
        pop[:, i] = nodes[rng.integers(0, len(nodes), count)]
    return pop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="benchmark data folder (default: gabalance.io.data_dir())")
    parser.add_argument("--no-data", action="store_true", help="generated instances only")
    args = parser.parse_args(argv)
    data = None if args.no_data else io.data_dir(args.data)
    rng = np.random.default_rng(0)
    print(f"{'instance':<24} {'N':>6} {'M':>5} {'objective':<18} {'best':>12} "
          f"{'violation':>10} {'feasible':>9} {'ms':>8}  check of the best")
    for problem in instances(data):
        objective = problem.objective or "makespan"
        pop = random_plans(problem, 256, rng)
        keys = rng.random(pop.shape) if gb.mode_of(objective) == "schedule" else None
        t0 = time.perf_counter()
        ev = gb.evaluate(problem, pop, keys, objective=objective, schedule="best"
                         if keys is not None else None)
        ms = (time.perf_counter() - t0) * 1e3
        best = ev.best()
        start = None if ev.start is None else ev.start[0]
        devices = None if ev.devices is None else ev.devices[best]
        check = gb.validate(problem, pop[best], start, devices=devices)
        verdict = "valid" if check.ok else f"{len(check.problems)} broken constraints"
        print(f"{problem.name[:24]:<24} {problem.n_tasks:>6} {problem.n_nodes:>5} "
              f"{objective:<18} {ev.objective[best]:>12.6g} {ev.violation[best]:>10.4g} "
              f"{int(ev.feasible.sum()):>5}/256 "
              f"{ms:>8.1f}  {verdict}")
    if data is None and not args.no_data:
        print("(benchmark data folder not found: only generated instances were shown)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
