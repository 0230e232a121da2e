"""The GAP search engine against HiGHS at equal wall time, with the time each solve used.

    python bench/engine.py --group gapd        # six type-D instances, 60 s each, GA and HiGHS
    python bench/engine.py --group abc200      # types A-C with n <= 200, 30 s, GA
    python bench/engine.py --group largec      # the nine large type-C instances, 60 s
    python bench/engine.py --group gapd --time 10 --solvers ga   # a shorter look

Every row gives the gap to the best known value of
``gap_yagiura/DERIVED_gap_reference_values.csv`` (positive = worse), the GA's generations,
and the solve's wall time split into kernel compilation (``SolveResult.compile_time``) and
search; ``within`` says whether search time <= limit + max(5 %, 0.5 s). The JSON of a run
goes to ``bench/results/engine_<group>.json`` and the Markdown table to stdout (the tables in
bench/RESULTS.md are those printed tables).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import gabalance as gb  # noqa: E402
from bench._common import default_data, machine, save, warm_up  # noqa: E402
from bench.suite import gap  # noqa: E402
from bench.suite.peers import highs_gap  # noqa: E402

GROUPS: dict[str, tuple[list[str], float, tuple[str, ...]]] = {
    "gapd": (["d05100", "d05200", "d10100", "d10200", "d20100", "d20200"], 60.0,
             ("ga", "highs")),
    "abc200": ([f"{t}{m:02d}{n}" for t in "abc" for m in (5, 10, 20) for n in (100, 200)],
               30.0, ("ga",)),
    "largec": (["c10400", "c15900", "c20400", "c201600", "c30900", "c401600", "c40400",
                "c60900", "c801600"], 60.0, ("ga", "highs")),
}


def within(search_s: float, limit: float) -> bool:
    """The project's rule for a kept time limit: search time <= limit + max(5 %, 0.5 s)."""
    return search_s <= limit + max(0.05 * limit, 0.5)


def run_ga(problem: gb.Problem, limit: float, seed: int, params: dict | None
           ) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = gb.solve(problem, "cost", time_limit=limit, seed=seed, backend="numba",
                   params=params)
    wall = time.perf_counter() - t0
    ok = res.violation == 0 and gb.validate(problem, res.x).ok
    return {"value": float(res.fun) if ok else None, "generations": int(res.nit),
            "wall": wall, "compile": float(res.compile_time),
            "search": wall - float(res.compile_time), "message": res.message,
            "seeded": list(res.seeded)}


def run_highs(problem: gb.Problem, limit: float, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = highs_gap(problem, limit, seed=seed)
    wall = time.perf_counter() - t0
    return {"value": out["value"], "wall": wall, "compile": 0.0, "search": wall,
            "message": out["status"]}


def table(doc: dict[str, Any]) -> str:
    solvers = doc["solvers"]
    lines = [f"`{doc['command']}` ({doc['machine']['cpu']}, {doc['machine']['cores']} cores, "
             f"{doc['machine']['date']}; {doc['time_limit']:g} s per solver)", ""]
    head = "| instance | m x n | best known | " + " | ".join(
        f"{s} gap %" for s in solvers) + " | GA generations | GA wall s | compile s | " \
        "search s | within |"
    lines += [head, "|---|---|---:|" + "---:|" * len(solvers) + "---:|---:|---:|---:|:---:|"]
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for r in doc["rows"]:
        cells = []
        for s in solvers:
            g = r[s]["gap"]
            cells.append("—" if g is None else f"{g:.3f}")
            if g is not None:
                gaps[s].append(g)
        ga = r["ga"]
        lines.append(f"| {r['instance']} | {r['m']}x{r['n']} | {r['best']:g} | "
                     + " | ".join(cells)
                     + f" | {ga['generations']} | {ga['wall']:.2f} | {ga['compile']:.2f} | "
                     f"{ga['search']:.2f} | {'yes' if ga['within'] else '**no**'} |")
    means = [f"**{sum(v) / len(v):.3f}**" if v and len(v) == len(doc["rows"]) else "—"
             for v in gaps.values()]
    lines.append("| **mean** | | | " + " | ".join(means) + " | | | | | |")
    if "highs" in solvers:
        at_or_below = sum(1 for r in doc["rows"] if r["ga"]["value"] is not None and (
            r["highs"]["value"] is None or r["ga"]["gap"] <= r["highs"]["gap"] + 1e-12))
        lines.append("")
        lines.append(f"GA at or below HiGHS on {at_or_below} of {len(doc['rows'])}.")
    best = sum(1 for r in doc["rows"] if r["ga"]["gap"] is not None and r["ga"]["gap"] <= 1e-9)
    lines.append(f"GA at the best known value on {best} of {len(doc['rows'])}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python bench/engine.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--group", choices=sorted(GROUPS), required=True)
    ap.add_argument("--time", type=float, default=None, help="seconds per solver")
    ap.add_argument("--solvers", default=None, help="comma list of ga, highs")
    ap.add_argument("--instances", default=None, help="comma list (default: the group's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default=None, help="GAParams fields as JSON")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    names, limit, solvers = GROUPS[args.group]
    if args.time is not None:
        limit = args.time
    if args.solvers:
        solvers = tuple(args.solvers.split(","))
    if args.instances:
        names = args.instances.split(",")
    data = args.data or default_data()
    params = json.loads(args.params) if args.params else None
    warm_up("numba")
    rows = []
    for name in names:
        problem, sense, best, _ = gap.load(name, data)
        row: dict[str, Any] = {"instance": name, "m": problem.n_nodes, "n": problem.n_tasks,
                               "best": best}
        for s in solvers:
            out = run_ga(problem, limit, args.seed, params) if s == "ga" \
                else run_highs(problem, limit, args.seed)
            out["gap"] = gap.gap_percent(out["value"], best, sense)
            out["within"] = within(out["search"], limit)
            row[s] = out
            g = out["gap"]
            print(f"{name} {s}: {out['value']} ({'—' if g is None else f'{g:.3f}%'}) "
                  f"wall {out['wall']:.2f} s, compile {out['compile']:.2f} s"
                  + (f", {out['generations']} generations" if s == "ga" else ""), flush=True)
        rows.append(row)
    doc = {"command": "python bench/engine.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "machine": machine(), "time_limit": limit, "solvers": list(solvers), "rows": rows}
    save(args.out or HERE / "results" / f"engine_{args.group}.json", doc)
    print()
    print(table(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
