"""What each schedule-mode design choice gives on the bundled ai_cluster (500 tasks, 64 nodes,
weighted completion), GA and PSO at equal time, several seeds.

    python bench/schedule_ablation.py [--time 20] [--seeds 0,1] [--out FILE]
    python bench/schedule_ablation.py --critical [--data DIR]

GA variants: the defaults; the critical-path search off (``critical=0``); without the WSPT
list schedule among the seeds (``gabalance.baselines.seed_plans`` filtered for the run);
and without it but with HEFT, CPOP and PEFT in the first population instead of held beside it
(``gabalance.algorithms.ga.HOLD_LIST_SCHEDULES`` emptied for the run). PSO variants: the
defaults; the critical-path search off; the schedule keys' velocity clip at the assignment
keys' 0.5 (``key_velocity=0.5``); the placement-mode jump rate (``jump=0.1``, a tenth of the
genes). Each row gives the objective per seed, the median, and how far below least_loaded and
below PEFT and WSPT (the best list schedules here) the median is. Default numba backend,
after a warm-up.
Writes ``bench/results/schedule_ablation.json``.

``--critical``: the critical-path search on (``critical=20``) and off on every 12th PSPLIB j30
instance (2 s each, against the optimum) and the quick suite's random DAGs (10 s each), seed
0; writes ``bench/results/schedule_ablation_critical.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import gabalance as gb
from gabalance import examples
from gabalance.algorithms import base as base_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data, machine, save, warm_up

HERE = Path(__file__).resolve().parent

#: (label, method, params, HEFT/CPOP/PEFT held beside the population, WSPT seed)
VARIANTS: list[tuple[str, str, dict[str, Any], bool, bool]] = [
    ("GA, defaults", "ga", {}, True, True),
    ("GA, critical-path search off", "ga", {"critical": 0}, True, True),
    ("GA, without the WSPT seed", "ga", {}, True, False),
    ("GA, without the WSPT seed, HEFT/CPOP/PEFT in the population", "ga", {}, False, False),
    ("PSO, defaults", "pso", {}, True, True),
    ("PSO, critical-path search off", "pso", {"critical": 0}, True, True),
    ("PSO, key_velocity 0.5", "pso", {"key_velocity": 0.5}, True, True),
    ("PSO, jump 0.1 (placement rate)", "pso", {"jump": 0.1}, True, True),
]


def run(limit: float, seeds: list[int]) -> dict[str, Any]:
    p = examples.load("ai_cluster")
    base = {m: float(gb.solve(p, method=m).fun) for m in ("least_loaded", "peft", "wspt")}
    rows = []
    held, plans = base_module.HOLD_LIST_SCHEDULES, base_module.seed_plans

    def without_wspt(*args: Any, **kwargs: Any) -> Any:
        return [(n, plan) for n, plan in plans(*args, **kwargs) if n != "wspt"]

    for label, method, params, hold, wspt in VARIANTS:
        vals = []
        for seed in seeds:
            base_module.HOLD_LIST_SCHEDULES = held if hold else frozenset()
            base_module.seed_plans = plans if wspt else without_wspt  # type: ignore[assignment]
            try:
                cls = gb.GAParams if method == "ga" else gb.PSOParams
                res = gb.solve(p, method=method, time_limit=limit, seed=seed, backend="numba",
                               params=cls(**params))
            finally:
                base_module.HOLD_LIST_SCHEDULES = held
                base_module.seed_plans = plans
            if res.violation != 0 or not gb.validate(p, res.x, res.start).ok:
                raise AssertionError(f"{label}, seed {seed}: the schedule is not valid")
            vals.append(float(res.fun))
        med = statistics.median(vals)
        rows.append({"variant": label, "method": method, "params": params, "held": hold,
                     "wspt": wspt, "values": vals, "median": med,
                     **{f"below_{m}": 100.0 * (v - med) / v for m, v in base.items()}})
        print(f"{label}: " + ", ".join(f"{v:,.0f}" for v in vals), flush=True)
    return {"time_limit": limit, "seeds": seeds, "baselines": base, "rows": rows}


def run_critical(data: Path, j30_time: float, dag_time: float, every: int) -> dict[str, Any]:
    """The critical-path search on and off (``critical`` 20 and 0, other parameters at their
    defaults, seed 0) on every ``every``-th PSPLIB j30 instance (``j30_time`` s each, against
    the optimum) and on the quick suite's random DAGs (``dag_time`` s each, against the best
    of saga's HEFT and CPoP when anrg-saga is installed, else gabalance's heft)."""
    sys.path.insert(0, str(HERE.parent))  # the repository root: the bench package
    from bench.suite import dag
    from gabalance.io import psplib_optima, read_psplib

    optima = psplib_optima(data / "psplib_j30" / "optimum" / "optimum.csv")
    files = sorted((data / "psplib_j30" / "j30").glob("*.sm"),
                   key=lambda f: [int(t) for t in f.stem[3:].split("_")])[::every]
    out: dict[str, Any] = {"j30_time": j30_time, "dag_time": dag_time, "every": every,
                           "j30": [], "dag": []}
    for f in files:
        p = read_psplib(f)
        row = {"instance": p.name, "optimum": optima[p.name]}
        for c in (0, 20):
            res = gb.solve(p, "makespan", time_limit=j30_time, seed=0, backend="numba",
                           params=gb.GAParams(critical=c))
            row[f"critical_{c}"] = float(res.fun)
        out["j30"].append(row)
    have_saga = dag.saga_available()
    for spec in dag.instances("quick"):
        p = dag.make(spec)
        ref = min(dag.saga_schedule(p, m)["makespan"] for m in dag.SAGA_METHODS) \
            if have_saga else float(gb.solve(p, "makespan", method="heft").fun)
        row = {"instance": spec["id"], "reference": ref}
        for c in (0, 20):
            res = gb.solve(p, "makespan", time_limit=dag_time, seed=0, backend="numba",
                           params=gb.GAParams(critical=c))
            row[f"critical_{c}"] = float(res.fun)
        out["dag"].append(row)
        print(f"{spec['id']}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()
                                              if k.startswith("critical")), flush=True)
    out["dag_reference"] = "best of saga HEFT and CPoP" if have_saga else "gabalance heft"
    return out


def critical_table(doc: dict[str, Any]) -> str:
    j30, dags = doc["j30"], doc["dag"]
    lines = [f"PSPLIB j30, every {doc['every']}th instance ({len(j30)}), "
             f"{doc['j30_time']:g} s each; random DAGs of the quick suite ({len(dags)}), "
             f"{doc['dag_time']:g} s each, against the {doc['dag_reference']}.\n",
             "| critical | j30 optimal | j30 mean deviation, % | DAG mean below the reference, % |",
             "|---:|---:|---:|---:|"]
    for c in (0, 20):
        k = f"critical_{c}"
        opt = sum(r[k] == r["optimum"] for r in j30)
        dev = statistics.fmean(100 * (r[k] - r["optimum"]) / r["optimum"] for r in j30)
        below = statistics.fmean(100 * (r["reference"] - r[k]) / r["reference"] for r in dags)
        lines.append(f"| {c} | {opt}/{len(j30)} | {dev:.3f} | {below:.2f} |")
    return "\n".join(lines)


def table(doc: dict[str, Any]) -> str:
    seeds = doc["seeds"]
    out = ["| variant | " + " | ".join(f"seed {s}" for s in seeds)
           + " | median | below least_loaded, % | below PEFT, % | below WSPT, % |",
           "|---|" + "---:|" * (len(seeds) + 4)]
    for r in doc["rows"]:
        out.append(f"| {r['variant']} | " + " | ".join(f"{v:,.0f}" for v in r["values"])
                   + f" | {r['median']:,.0f} | {r['below_least_loaded']:.2f} | "
                   f"{r['below_peft']:.2f} | {r['below_wspt']:.2f} |")
    b = doc["baselines"]
    out.append(f"\nleast_loaded {b['least_loaded']:,.0f}, PEFT {b['peft']:,.0f}, WSPT "
               f"{b['wspt']:,.0f}; "
               f"{doc['time_limit']:g} s per run.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=20.0)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "schedule_ablation.json")
    ap.add_argument("--critical", action="store_true",
                    help="instead: the critical-path search on and off on j30 and random "
                         "DAGs (writes schedule_ablation_critical.json beside --out)")
    ap.add_argument("--data", type=Path, default=None, help="benchmark data folder")
    args = ap.parse_args(argv)
    warm_up("numba")
    if args.critical:
        doc = run_critical(args.data or default_data(), 2.0, 10.0, 12)
        doc["machine"] = machine()
        doc["command"] = "python bench/schedule_ablation.py " + " ".join(
            argv if argv is not None else sys.argv[1:])
        save(args.out.with_name("schedule_ablation_critical.json"), doc)
        print(critical_table(doc))
        return 0
    doc = run(args.time, [int(s) for s in args.seeds.split(",")])
    doc["machine"] = machine()
    doc["command"] = "python bench/schedule_ablation.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    save(args.out, doc)
    print(table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
