"""Solution quality of the GA (or the PSO) on PSPLIB j30 (RCPSP: one node with the
project's resources).

    python bench/quality_rcpsp.py [--time 2] [--limit N] [--seed 0]
    python bench/quality_rcpsp.py --method pso [--params '{"variant": "keys"}'] [--every 3]

Solves every ``.sm`` file of ``psplib_j30/j30`` (336 instances) with
``gabalance.solve(problem, "makespan", time_limit=T, seed=S)`` (numba backend, default
parameters) after a warm-up, checks each schedule with ``gabalance.validate`` and compares the
makespan with the known optimum (``psplib_j30/optimum/optimum.csv``). Prints the mean
deviation, the share solved to optimality and the instances that were not, and writes
``bench/results/quality_rcpsp.json``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import gabalance as gb
from gabalance.io import psplib_optima, read_psplib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_method_args,
    default_data,
    machine,
    method_kwargs,
    result_name,
    save,
    time_to_best,
    warm_up,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=2.0, help="seconds per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    add_method_args(ap)
    args = ap.parse_args(argv)
    data = args.data or default_data()
    optima = psplib_optima(data / "psplib_j30" / "optimum" / "optimum.csv")
    files = sorted((data / "psplib_j30" / "j30").glob("*.sm"),
                   key=lambda f: [int(s) for s in f.stem[3:].split("_")])
    files = files[:args.limit] if args.limit else files
    files = files[::args.every]
    warm_up(args.backend)
    rows = []
    t_all = time.perf_counter()
    for f in files:
        p = read_psplib(f)
        res = gb.solve(p, "makespan", time_limit=args.time, seed=args.seed,
                       backend=args.backend, **method_kwargs(args))
        ok = gb.validate(p, res.x, res.start).ok
        opt = optima[p.name]
        rows.append(dict(instance=p.name, optimum=opt, found=res.fun,
                         deviation=100.0 * (res.fun - opt) / opt, valid=ok,
                         time_to_best=time_to_best(res), time=res.time, generations=res.nit,
                         nfev=res.nfev))
        print(f"{p.name:>10} optimum {opt:4d} found {res.fun:6g} {'' if ok else 'INVALID '}"
              f"gens {res.nit:5d} to best {rows[-1]['time_to_best']:.2f} s", flush=True)
    n = len(rows)
    optimal = sum(r["deviation"] <= 1e-9 for r in rows)
    summary = dict(instances=n, optimal=optimal, optimal_share=optimal / max(1, n),
                   mean_deviation=sum(r["deviation"] for r in rows) / max(1, n),
                   max_deviation=max((r["deviation"] for r in rows), default=0.0),
                   all_valid=all(r["valid"] for r in rows),
                   mean_nfev=sum(r["nfev"] for r in rows) / max(1, n),
                   wall=time.perf_counter() - t_all)
    print(f"\n{n} instances, {args.time:g} s each: mean deviation from the optimum "
          f"{summary['mean_deviation']:.3f}%, optimal {optimal}/{n} "
          f"({100 * summary['optimal_share']:.1f}%), worst {summary['max_deviation']:.2f}%, "
          f"mean schedules decoded {summary['mean_nfev']:.0f}, all valid {summary['all_valid']}")
    for r in rows:
        if r["deviation"] > 1e-9:
            print(f"  not optimal: {r['instance']} {r['found']:g} vs {r['optimum']}")
    command = "python bench/quality_rcpsp.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    out = args.out or Path(__file__).resolve().parent / "results" / result_name(
        "quality_rcpsp", args)
    save(out, dict(command=command.strip(), time_limit=args.time, seed=args.seed,
                   backend=args.backend, method=args.method, params=args.params,
                   machine=machine(), summary=summary, rows=rows))
    return 0 if summary["all_valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
