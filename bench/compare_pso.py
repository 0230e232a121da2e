"""GA against PSO at equal time, beside round_robin, least_connections and least_loaded.

    python bench/compare_pso.py [--gapd-time 30] [--ai-time 20] [--data DIR]

* gapd: the six Yagiura type-D GAP instances (minimisation), GA and PSO ``--gapd-time``
  seconds each, gap to the best known value;
* ai_cluster: the bundled instance (500 tasks, 64 nodes, weighted completion), ``--ai-time``
  seconds each;
* j30: read from the two full runs of ``bench/quality_rcpsp.py`` (GA:
  ``results/quality_rcpsp.json``, PSO: ``results/quality_rcpsp_pso.json``, 2 s per instance
  each), with the baselines run here.

Default parameters and seed 0 for both searches, numba backend, after a warm-up. The baselines
run once. Prints Markdown tables and writes ``bench/results/compare_pso.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gabalance as gb
from gabalance import examples
from gabalance.io import gap_reference_values, psplib_optima, read_psplib, read_yagiura_gap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data, machine, save, warm_up
from quality_gap import REF, YAGIURA

HERE = Path(__file__).resolve().parent
BASELINES = ("round_robin", "least_connections", "least_loaded")
METHODS = ("ga", "pso", *BASELINES)


def _gap(value: float, ref: float) -> float:
    return 100.0 * (value - ref) / ref


def run_gapd(data: Path, limit: float) -> list[dict]:
    ref = gap_reference_values(data / REF)
    rows = []
    for m in (5, 10, 20):
        for n in (100, 200):
            name = f"d{m:02d}{n}"
            p = read_yagiura_gap(data / YAGIURA / f"{name}.zip", "min")
            row: dict = {"instance": name, "reference": ref[(name, "min")]["best_known_value"]}
            for method in METHODS:
                kw = dict(time_limit=limit, seed=0) if method in ("ga", "pso") else {}
                res = gb.solve(p, "cost", method=method, backend="numba", **kw)
                row[method] = res.fun if res.violation == 0 else None
            rows.append(row)
            print(f"{name}: " + ", ".join(f"{k} {row[k]}" for k in METHODS), flush=True)
    return rows


def run_ai(limit: float) -> dict:
    p = examples.load("ai_cluster")
    row: dict = {}
    for method in METHODS:
        kw = dict(time_limit=limit, seed=0) if method in ("ga", "pso") else {}
        res = gb.solve(p, method=method, backend="numba", **kw)
        row[method] = res.fun if res.violation == 0 else None
        row[f"{method}_iterations"] = res.nit
    print("ai_cluster: " + ", ".join(f"{k} {row[k]}" for k in METHODS), flush=True)
    return row


def run_j30(data: Path) -> dict:
    runs = {}
    for method, fname in (("ga", "quality_rcpsp.json"), ("pso", "quality_rcpsp_pso.json")):
        doc = json.loads((HERE / "results" / fname).read_text())
        runs[method] = {r["instance"]: r["found"] for r in doc["rows"]}
        runs[f"{method}_run"] = {"command": doc["command"], "date": doc["machine"]["date"]}
    optima = psplib_optima(data / "psplib_j30" / "optimum" / "optimum.csv")
    base: dict[str, dict[str, float]] = {m: {} for m in BASELINES}
    for f in sorted((data / "psplib_j30" / "j30").glob("*.sm")):
        p = read_psplib(f)
        for m in BASELINES:
            base[m][p.name] = gb.solve(p, "makespan", method=m).fun
    out: dict = {"instances": len(optima)}
    for m in METHODS:
        found = runs[m] if m in ("ga", "pso") else base[m]
        devs = [_gap(found[k], optima[k]) for k in found]
        out[m] = {"mean_deviation": statistics.fmean(devs),
                  "optimal": sum(d <= 1e-9 for d in devs), "count": len(devs)}
    out["runs"] = {m: runs[f"{m}_run"] for m in ("ga", "pso")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gapd-time", type=float, default=30.0)
    ap.add_argument("--ai-time", type=float, default=20.0)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "compare_pso.json")
    args = ap.parse_args(argv)
    data = args.data or default_data()
    warm_up("numba")
    t0 = time.perf_counter()
    gapd = run_gapd(data, args.gapd_time)
    ai = run_ai(args.ai_time)
    j30 = run_j30(data)
    doc = dict(command="python bench/compare_pso.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), machine=machine(),
        gapd_time=args.gapd_time, ai_time=args.ai_time, gapd=gapd, ai_cluster=ai, j30=j30,
        wall=time.perf_counter() - t0)
    save(args.out, doc)
    print()
    print(report(doc))
    return 0


def report(doc: dict) -> str:
    m = doc["machine"]
    head = " | ".join(METHODS)
    lines = [f"Command: `{doc['command'].strip()}`; {m['date']}, {m['cpu']}, {m['cores']} cores, "
             f"numba {m['numba']} with {m['numba_threads']} threads; seed 0, default "
             "parameters.", "",
             f"**gapd**, {doc['gapd_time']:g} s per search, gap % to the best known value:", "",
             f"| instance | best known | {head} |", "|---|---:|" + "---:|" * len(METHODS)]
    for r in doc["gapd"]:
        cells = " | ".join("-" if r[k] is None else f"{r[k]:g} ({_gap(r[k], r['reference']):.2f})"
                           for k in METHODS)
        lines.append(f"| {r['instance']} | {r['reference']} | {cells} |")
    means = " | ".join(
        f"{statistics.fmean(_gap(r[k], r['reference']) for r in doc['gapd']):.2f}"
        if all(r[k] is not None for r in doc["gapd"]) else "-" for k in METHODS)
    lines.append(f"| mean gap % | | {means} |")
    a = doc["ai_cluster"]
    lines += ["", f"**ai_cluster** (weighted completion), {doc['ai_time']:g} s per search:", "",
              f"| | {head} |", "|---|" + "---:|" * len(METHODS),
              "| objective | " + " | ".join("-" if a[k] is None else f"{a[k]:.8g}"
                                           for k in METHODS) + " |",
              "| iterations | " + " | ".join(str(a[f"{k}_iterations"]) for k in METHODS) + " |"]
    j = doc["j30"]
    runs = j["runs"]
    lines += ["", f"**j30** ({j['instances']} instances), 2 s per search (GA: "
              f"`{runs['ga']['command']}`, {runs['ga']['date']}; PSO: "
              f"`{runs['pso']['command']}`, {runs['pso']['date']}):", "",
              f"| | {head} |", "|---|" + "---:|" * len(METHODS),
              "| mean deviation from the optimum % | " + " | ".join(
                  f"{j[k]['mean_deviation']:.3f}" for k in METHODS) + " |",
              "| optimal | " + " | ".join(f"{j[k]['optimal']}/{j[k]['count']}"
                                         for k in METHODS) + " |"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
