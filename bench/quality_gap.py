"""Solution quality of the GA on the generalized assignment problem (GAP).

    python bench/quality_gap.py orlib   [--time 2]   # gap1-gap12, 60 problems, both senses
    python bench/quality_gap.py abc     [--time 30]  # types A, B, C with n <= 200 (18, min)
    python bench/quality_gap.py gapd    [--time 60]  # the six type-D instances (min)
    python bench/quality_gap.py orlib --only gap1 --time 1   # a subset
    python bench/quality_gap.py orlib --method pso [--params '{"variant": "keys"}']

Each problem is solved once with ``gabalance.solve(problem, "cost", time_limit=T, seed=S)``
(numba backend, default parameters) after a warm-up that compiles the kernels. The table
gives the reference value (optimum or best known, ``DERIVED_gap_reference_values.csv``; the
OR-Library maximisation optima of gap1-12 are in the same file), the value found, the gap in
percent, the time at which the final value was first reached, and the generations run.
Every solution is checked with ``gabalance.validate``. Results go to
``bench/results/quality_gap_<set>.json``; ``bench/report.py`` is not needed to read them.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import gabalance as gb
from gabalance.io import gap_reference_values, read_orlib_gap, read_yagiura_gap

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

SETS = {"orlib": 2.0, "abc": 30.0, "gapd": 60.0}
REF = Path("gap_yagiura", "DERIVED_gap_reference_values.csv")
YAGIURA = Path("gap_yagiura", "AssignmentProblems.jl", "data")


def _orlib_names(data: Path) -> dict[tuple[str, int], str]:
    """(orlib file stem, 1-based index) -> Yagiura instance name, from the reference CSV."""
    out = {}
    with open(data / REF, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["orlib_file"] and row["orlib_problem_index_1based"]:
                out[(row["orlib_file"].removesuffix(".txt"),
                     int(row["orlib_problem_index_1based"]))] = row["instance"]
    return out


def problems(which: str, data: Path, only: list[str]) -> list[tuple[str, str, gb.Problem]]:
    """(reference instance name, sense, problem) for the chosen set."""
    out = []
    if which == "orlib":
        names = _orlib_names(data)
        for n in range(1, 13):
            stem = f"gap{n}"
            if only and stem not in only:
                continue
            for sense in ("max", "min"):
                for k, p in enumerate(read_orlib_gap(data / "gap_orlib" / f"{stem}.txt", sense), 1):
                    out.append((names[(stem, k)], sense, p))
        return out
    if which == "abc":
        stems = [f"{t}{m:02d}{n}" for t in "abc" for m in (5, 10, 20) for n in (100, 200)]
    else:
        stems = [f"d{m:02d}{n}" for m in (5, 10, 20) for n in (100, 200)]
    for stem in stems:
        if only and stem not in only:
            continue
        out.append((stem, "min", read_yagiura_gap(data / YAGIURA / f"{stem}.zip", "min")))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", choices=sorted(SETS))
    ap.add_argument("--time", type=float, default=None, help="seconds per problem")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--only", nargs="*", default=[], help="instance stems (e.g. gap1 c10200)")
    ap.add_argument("--out", type=Path, default=None)
    add_method_args(ap)
    args = ap.parse_args(argv)
    data = args.data or default_data()
    limit = args.time if args.time is not None else SETS[args.set]
    ref = gap_reference_values(data / REF)
    warm_up(args.backend)
    rows = []
    print("| instance | sense | reference | found | gap % | time to best s | generations |")
    print("|---|---|---:|---:|---:|---:|---:|")
    t_all = time.perf_counter()
    for name, sense, p in problems(args.set, data, args.only)[::args.every]:
        res = gb.solve(p, "cost", sense=sense, time_limit=limit, seed=args.seed,
                       backend=args.backend, **method_kwargs(args))
        ok = gb.validate(p, res.x).ok
        best = ref[(name, sense)]["best_known_value"]
        gap = 100.0 * ((res.fun - best) if sense == "min" else (best - res.fun)) / best
        row = dict(instance=name, file_problem=p.name, sense=sense, reference=best,
                   proven=ref[(name, sense)]["proven_optimal"], found=res.fun, gap=gap,
                   valid=ok, time_to_best=time_to_best(res), time=res.time, generations=res.nit)
        rows.append(row)
        print(f"| {name} ({p.name}) | {sense} | {best} | {res.fun:g}{'' if ok else ' INVALID'} | "
              f"{gap:.2f} | {row['time_to_best']:.2f} | {res.nit} |", flush=True)
    hit = sum(r["gap"] <= 1e-9 for r in rows)
    mean = sum(r["gap"] for r in rows) / max(1, len(rows))
    summary = dict(problems=len(rows), reached_reference=hit, mean_gap=mean,
                   worst_gap=max((r["gap"] for r in rows), default=0.0),
                   all_valid=all(r["valid"] for r in rows),
                   max_time_to_best=max((r["time_to_best"] for r in rows), default=0.0),
                   wall=time.perf_counter() - t_all)
    print(f"\n{hit}/{len(rows)} reach the reference value; mean gap {mean:.3f}%, worst "
          f"{summary['worst_gap']:.3f}%; every solution valid: {summary['all_valid']}; "
          f"slowest time to best {summary['max_time_to_best']:.2f} s")
    command = "python bench/quality_gap.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    out = args.out or Path(__file__).resolve().parent / "results" / result_name(
        f"quality_gap_{args.set}", args)
    save(out, dict(command=command.strip(), time_limit=limit, seed=args.seed,
                   backend=args.backend, method=args.method, params=args.params,
                   machine=machine(), summary=summary, rows=rows))
    return 0 if summary["all_valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
