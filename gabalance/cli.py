"""Command line: ``gabalance demo | info | show``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence

import numpy as np


def _load(name_or_path: str):
    from gabalance import Problem, examples  # type: ignore[attr-defined]

    if name_or_path in examples.names():
        return examples.load(name_or_path)
    return Problem.from_json(name_or_path)


def _summary(problem) -> str:
    lines = [repr(problem)]
    cap = problem.capacity.sum(axis=0)
    lines.append("  total capacity: " + ", ".join(
        f"{r}={v:g}" for r, v in zip(problem.resources, cap.tolist())))
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    import gabalance as gb
    from gabalance.baselines import BASELINES

    problem = _load(args.instance)
    objective = args.objective or problem.objective or "makespan"
    schedule = gb.mode_of(objective) == "schedule"  # an unknown objective is reported here
    print(_summary(problem))
    print(f"\nobjective: {objective} ({'schedule' if schedule else 'placement'} mode); "
          "feasible = gabalance.validate finds no broken constraint\n")
    print(f"{'baseline':<22} {objective:>20} {'violation':>10} {'feasible':>9} {'ms':>8}")
    rows = []
    consistent = True
    for name, baseline in BASELINES.items():
        if name == "heft" and not schedule:
            continue  # HEFT orders tasks for a schedule; it has no placement meaning
        t0 = time.perf_counter()
        plan = baseline(problem, objective) if name == "least_loaded" else (
            baseline(problem, 0) if name == "random" else baseline(problem))
        ms = (time.perf_counter() - t0) * 1e3
        ev = gb.evaluate(problem, plan.assignment, plan.keys if schedule else None,
                         objective=objective, backend=args.backend,
                         schedule=True if schedule else None)
        start = None if ev.start is None else ev.start[0]
        check = gb.validate(problem, plan.assignment, start)
        consistent &= check.ok == (ev.violation[0] == 0)
        rows.append((name, plan, ev))
        print(f"{name:<22} {ev.objective[0]:>20.6g} {ev.violation[0]:>10.4g} "
              f"{'yes' if check.ok else 'no':>9} {ms:>8.1f}")
    order = gb.rank_order([ev.objective[0] for _, _, ev in rows],
                          [ev.violation[0] for _, _, ev in rows], rows[0][2].sense)
    name, plan, ev = rows[int(order[0])]
    x = plan.assignment
    print(f"\nbest baseline: {name} (backend {ev.backend})")
    counts = np.bincount(x, minlength=problem.n_nodes)
    busiest = np.argsort(-counts, kind="stable")[:5]
    print("busiest nodes: " + ", ".join(
        f"{problem.node_names[j]} ({counts[j]} tasks)" for j in busiest))
    if ev.start is not None and ev.finish is not None:
        start, finish = ev.start[0], ev.finish[0]
        print("last tasks to finish:")
        for i in np.argsort(finish, kind="stable")[-5:]:
            print(f"  {problem.task_names[i]:>12} on {problem.node_names[x[i]]:<12} "
                  f"start {start[i]:10.4g}  finish {finish[i]:10.4g}")
    if not consistent:
        print("error: validate() and evaluate() disagree on feasibility", file=sys.stderr)
    return 0 if consistent else 1


def cmd_info(args: argparse.Namespace) -> int:
    import numba
    import scipy

    import gabalance as gb
    from gabalance.backend import BACKENDS, resolve_backend

    print(f"gabalance {gb.__version__}")
    print(f"python    {platform.python_version()} ({platform.machine()}, {os.cpu_count()} cpus)")
    print(f"numpy     {np.__version__}\nscipy     {scipy.__version__}")
    print(f"numba     {numba.__version__} ({numba.get_num_threads()} threads)")
    print(f"backends  {', '.join(BACKENDS)}; auto -> {resolve_backend('auto')}")
    return 0


FORMATS = ("json", "orlib-gap", "yagiura-gap", "psplib")


def _read(fmt: str, path: str, sense: str | None):
    from gabalance import io

    if fmt == "json":
        return _load(path)
    if fmt == "orlib-gap":
        path, _, index = path.partition("#")
        if index and not index.isdigit():
            raise ValueError(f"in FILE#K, K picks the problem in the file and must be a whole "
                             f"number, got {index!r}")
        return io.read_orlib_gap_one(path, int(index or 1), sense=sense)
    if fmt == "yagiura-gap":
        return io.read_yagiura_gap(path, sense=sense or "min")
    return io.read_psplib(path)


def cmd_show(args: argparse.Namespace) -> int:
    problem = _read(args.format, args.file, args.sense)
    print(_summary(problem))
    if args.out:
        problem.to_json(args.out)
        print(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gabalance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every baseline balancer on a bundled instance")
    demo.add_argument("--instance", default="ai_cluster",
                      help="bundled name (ai_cluster, scenario) or a problem JSON file")
    demo.add_argument("--objective", default=None)
    demo.add_argument("--backend", default="auto", choices=["auto", "numba", "numpy"])
    demo.set_defaults(func=cmd_demo)
    info = sub.add_parser("info", help="versions and backends")
    info.set_defaults(func=cmd_info)
    show = sub.add_parser("show", help="load, validate and summarise a problem file")
    show.add_argument("file", help="a problem file; for orlib-gap FILE#K picks problem K")
    show.add_argument("--format", default="json", choices=FORMATS)
    show.add_argument("--sense", default=None, choices=["min", "max"],
                      help="objective sense for GAP files (default: the file's own)")
    show.add_argument("--out", default=None, help="also write the problem as JSON here")
    show.set_defaults(func=cmd_show)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"gabalance: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
